"""Time intervals of bids as ENTSO-E writes them: UTC, ``YYYY-MM-DDTHH:MMZ``.

ISPs come from ``domain/isp.py``, which works on UTC instants, so a local day has 92, 96 or
100 ISPs and the repeated autumn hour gets its own, distinct UTC intervals.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import NamedTuple

from domain.isp import floor_to_isp, isp_of, isps_of_day


class TimeInterval(NamedTuple):
    """A [start, end) interval as ENTSO-E ``YMDHM_DateTime`` strings in UTC."""

    start: str
    end: str


def utc_minute(ts: datetime) -> str:
    """``ts`` (aware) as ``YYYY-MM-DDTHH:MMZ`` in UTC; refuses seconds it would drop."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{ts.isoformat()} is naive; give a timezone-aware datetime")
    utc = ts.astimezone(UTC)
    if utc.second or utc.microsecond:
        raise ValueError(f"{ts.isoformat()} is not a whole minute")
    return utc.strftime("%Y-%m-%dT%H:%MZ")


def isp_interval(isp_start: datetime) -> TimeInterval:
    """The UTC interval of the ISP starting at ``isp_start``."""
    if floor_to_isp(isp_start) != isp_start:
        raise ValueError(f"{isp_start.isoformat()} is not the start of an ISP")
    isp = isp_of(isp_start)
    return TimeInterval(utc_minute(isp.start), utc_minute(isp.end))


def day_interval(day: date) -> TimeInterval:
    """The UTC interval of local (Europe/Amsterdam) day ``day``: 23, 24 or 25 hours."""
    isps = isps_of_day(day)
    return TimeInterval(utc_minute(isps[0].start), utc_minute(isps[-1].end))


def span_interval(isp_starts: list[datetime]) -> TimeInterval:
    """The UTC interval from the first ISP's start to the last ISP's end (a document period)."""
    if not isp_starts:
        raise ValueError("no ISPs")
    return TimeInterval(isp_interval(min(isp_starts)).start, isp_interval(max(isp_starts)).end)
