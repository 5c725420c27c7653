"""The ISP calendar: 15-minute imbalance settlement periods of the Dutch market.

ISPs are counted per local day in Europe/Amsterdam, 1..N in time order. A local day lasts 23
hours on the last Sunday of March (92 ISPs), 25 hours on the last Sunday of October (100 ISPs)
and 24 hours otherwise (96 ISPs). On 2025-10-26 ISPs 9-12 are the first 02:00-03:00 hour
(CEST, +02:00) and ISPs 13-16 the repeated one (CET, +01:00).

ISP boundaries are computed on UTC instants: Amsterdam's offsets are whole hours, so the
quarter-hours of UTC and of local time coincide. ``marts.dim_isp`` (dbt) holds the same calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ISP_MINUTES = 15
MARKET_TZ = ZoneInfo("Europe/Amsterdam")

_ISP = timedelta(minutes=ISP_MINUTES)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Isp:
    """One imbalance settlement period: [start, end) in UTC, numbered within its local day."""

    start: datetime
    end: datetime
    local_date: date
    number: int


def _require_aware(ts: datetime, name: str = "timestamp") -> None:
    """Refuse a naive datetime: an ISP is only defined for an instant on the time line."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(
            f"{name} {ts.isoformat()} is naive; give a timezone-aware datetime"
            " (e.g. with tzinfo=UTC or ZoneInfo('Europe/Amsterdam'))"
        )


def _local_midnight_utc(day: date) -> datetime:
    """Return the UTC instant of 00:00 Europe/Amsterdam on ``day`` (midnight always exists)."""
    return datetime.combine(day, time(0), tzinfo=MARKET_TZ).astimezone(UTC)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """Return the UTC start and end of local day ``day``."""
    return _local_midnight_utc(day), _local_midnight_utc(day + timedelta(days=1))


def isp_count(day: date) -> int:
    """Return the number of ISPs of local day ``day``: 92, 96 or 100."""
    start, end = _day_bounds(day)
    return (end - start) // _ISP


def isps_of_day(day: date) -> list[Isp]:
    """Return all ISPs of local day ``day`` in time order, numbered from 1."""
    start, _ = _day_bounds(day)
    return [
        Isp(
            start=start + i * _ISP,
            end=start + (i + 1) * _ISP,
            local_date=day,
            number=i + 1,
        )
        for i in range(isp_count(day))
    ]


def floor_to_isp(ts: datetime) -> datetime:
    """Return the start (UTC) of the ISP containing the aware timestamp ``ts``."""
    _require_aware(ts)
    return _EPOCH + ((ts - _EPOCH) // _ISP) * _ISP


def isp_of(ts: datetime) -> Isp:
    """Return the ISP containing the aware timestamp ``ts``."""
    start = floor_to_isp(ts)
    local_date = start.astimezone(MARKET_TZ).date()
    number = (start - _local_midnight_utc(local_date)) // _ISP + 1
    return Isp(start=start, end=start + _ISP, local_date=local_date, number=number)


def isps_between(start: datetime, end: datetime) -> list[Isp]:
    """Return the ISPs overlapping the half-open interval [start, end), in time order.

    An empty or reversed interval (``end <= start``) overlaps no ISP.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    isps: list[Isp] = []
    if end <= start:
        return isps
    current = isp_of(start)
    while current.start < end:
        isps.append(current)
        current = isp_of(current.end)
    return isps
