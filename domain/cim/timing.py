"""Time in CIM documents: UTC minutes, ISO 8601 durations and the positions of a period."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

#: The largest Point position the schemas allow.
MAX_POSITION = 999_999


class TimeValues(Protocol):
    """Values by timestamp: a ``Mapping[datetime, float | None]`` or a pandas ``Series``."""

    def items(self) -> Iterable[tuple[Any, Any]]:
        """(timestamp, value) pairs."""
        ...


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end) of whole UTC minutes, as CIM time intervals need."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        """Refuse naive, unaligned or empty periods."""
        for moment in (self.start, self.end):
            if moment.tzinfo is None:
                raise ValueError("period bounds must be timezone-aware")
            if moment.second or moment.microsecond:
                raise ValueError(f"period bound {moment.isoformat()} is not a whole minute")
        if self.end <= self.start:
            raise ValueError("period end must be after its start")

    def positions(self, resolution: timedelta) -> int:
        """How many points of ``resolution`` fill the period (refused if they do not fit)."""
        if resolution <= timedelta(0):
            raise ValueError("resolution must be positive")
        count, rest = divmod(self.end - self.start, resolution)
        if rest:
            raise ValueError(f"the period is not a whole number of {iso_duration(resolution)}")
        if count > MAX_POSITION:
            raise ValueError(f"{count} points exceed the schema's {MAX_POSITION} positions")
        return count


def utc_minute(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MMZ`` (the schemas' YMDHM form) of an aware, whole-minute moment."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def utc_second(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (the schemas' createdDateTime form) of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_duration(step: timedelta) -> str:
    """An ISO 8601 duration for a resolution: PT4S, PT1M, PT15M, PT1H, P1D."""
    seconds = int(step.total_seconds())
    if seconds <= 0 or step != timedelta(seconds=seconds):
        raise ValueError("resolution must be a positive whole number of seconds")
    if seconds % 86_400 == 0:
        return f"P{seconds // 86_400}D"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + "".join(
        f"{amount}{unit}" for amount, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if amount
    )


def finite_or_none(value: Any) -> float | None:
    """A float, or None for a missing value (None, NaN, pandas NA); infinities are refused."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None  # pandas.NA and the like
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise ValueError(f"infinite value {value!r}")
    return number


def values_by_position(
    values: TimeValues | Mapping[datetime, Any], period: Period, resolution: timedelta
) -> list[float | None]:
    """Place values on the period's grid: index i holds the value at start + i × resolution.

    Grid steps without a value (or with NaN/None) are None. A timestamp outside the period or
    off the grid is refused, as is a step given twice.
    """
    count = period.positions(resolution)
    placed: list[float | None] = [None] * count
    seen: set[int] = set()
    for moment, value in values.items():
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise ValueError(f"timestamp {moment!r} is not timezone-aware")
        index, rest = divmod(moment - period.start, resolution)
        if rest or not 0 <= index < count:
            raise ValueError(
                f"{moment.isoformat()} is not a {iso_duration(resolution)} step of the period"
            )
        if index in seen:
            raise ValueError(f"{moment.isoformat()} is given twice")
        seen.add(index)
        placed[index] = finite_or_none(value)
    return placed


def grid_means(
    samples: Iterable[tuple[datetime, float]], period: Period, resolution: timedelta
) -> dict[datetime, float]:
    """Mean of irregular samples per grid step of the period (steps without samples left out).

    A sample at t belongs to the step [s, s + resolution) that holds t; samples outside the
    period are ignored. Use it to turn device readings into a PT1M or PT4S series.
    """
    count = period.positions(resolution)
    sums: dict[int, list[float]] = {}
    for moment, value in samples:
        number = finite_or_none(value)
        if number is None:
            continue
        index = (moment - period.start) // resolution
        if 0 <= index < count:
            total = sums.setdefault(index, [0.0, 0])
            total[0] += number
            total[1] += 1
    return {period.start + i * resolution: total / n for i, (total, n) in sorted(sums.items())}
