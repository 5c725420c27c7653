"""Europe/Amsterdam wall-clock time for epoch minutes, daylight-saving correct, vectorised.

A local day lasts 23 hours on the last Sunday of March, 25 on the last Sunday of October and 24
otherwise. "The same time of day ``k`` days earlier" is the same wall-clock time on the local
date ``k`` days before:

- a wall-clock time skipped on a spring-forward day (02:00-02:59) does not exist there, so that
  day has no value for it (``MISSING_MINUTE``);
- a wall-clock time that occurs twice on a fall-back day (02:00-02:59) is read at its first
  pass (summer time, Python's ``fold=0``);
- both passes through the repeated hour map to the same earlier wall-clock time.

Offsets come from the IANA database (through pandas); nothing assumes a particular rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from domain.baselines.series import MISSING_MINUTE, minutes_to_timestamps
from domain.isp import MARKET_TZ

MINUTES_PER_DAY = 1440


def local_minutes(utc_minutes: np.ndarray) -> np.ndarray:
    """Europe/Amsterdam wall-clock time of each epoch minute, as minutes since 1970-01-01 local."""
    utc_minutes = np.asarray(utc_minutes, dtype=np.int64)
    if len(utc_minutes) == 0:
        return utc_minutes.copy()
    local = minutes_to_timestamps(utc_minutes).tz_convert(MARKET_TZ).tz_localize(None)
    return local.as_unit("s").asi8 // 60


def local_day_and_minute(utc_minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local date (days since 1970-01-01) and wall-clock minute of the day (0..1439)."""
    wall = local_minutes(utc_minutes)
    return np.divmod(wall, MINUTES_PER_DAY)


def _day_table(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per local day: the offset (minutes) at its start, at its end, and its UTC switch minute.

    The switch minute is the first epoch minute of the day with the end offset (the day's end
    when the offset does not change during the day).
    """
    starts_ns = (days * MINUTES_PER_DAY * 60).astype("datetime64[s]")
    ends_ns = ((days + 1) * MINUTES_PER_DAY * 60).astype("datetime64[s]")
    start_utc = pd.DatetimeIndex(starts_ns).tz_localize(MARKET_TZ).tz_convert("UTC")
    end_utc = pd.DatetimeIndex(ends_ns).tz_localize(MARKET_TZ).tz_convert("UTC")
    start_min = start_utc.as_unit("s").asi8 // 60
    end_min = end_utc.as_unit("s").asi8 // 60
    offset_start = days * MINUTES_PER_DAY - start_min
    offset_end = (days + 1) * MINUTES_PER_DAY - end_min
    switch = end_min.copy()
    for i in np.flatnonzero(offset_start != offset_end):
        span = np.arange(start_min[i], end_min[i], dtype=np.int64)
        offsets = local_minutes(span) - span
        switch[i] = span[np.argmax(offsets != offset_start[i])]
    return offset_start, offset_end, switch


def wall_clock_to_utc(days: np.ndarray, minute_of_day: np.ndarray) -> np.ndarray:
    """Epoch minute of a local date and wall-clock minute; ``MISSING_MINUTE`` if it does not exist.

    A repeated wall-clock time (fall-back day) gives its first pass.
    """
    days = np.asarray(days, dtype=np.int64)
    minute_of_day = np.asarray(minute_of_day, dtype=np.int64)
    if len(days) == 0:
        return days.copy()
    first = days.min()
    table = _day_table(np.arange(first, days.max() + 1, dtype=np.int64))
    offset_start, offset_end, switch = (column[days - first] for column in table)
    wall = days * MINUTES_PER_DAY + minute_of_day
    before_switch = wall - offset_start
    after_switch = wall - offset_end
    return np.where(
        before_switch < switch,
        before_switch,
        np.where(after_switch >= switch, after_switch, MISSING_MINUTE),
    )


def same_time_days_before(utc_minutes: np.ndarray, days_back: np.ndarray) -> np.ndarray:
    """Epoch minutes of the same wall-clock time ``days_back`` local days earlier.

    Shape ``(len(utc_minutes), len(days_back))``; ``MISSING_MINUTE`` where that wall-clock time
    did not exist (spring-forward gap).
    """
    utc_minutes = np.asarray(utc_minutes, dtype=np.int64)
    days_back = np.asarray(days_back, dtype=np.int64)
    day, minute = local_day_and_minute(utc_minutes)
    earlier_days = day[:, None] - days_back[None, :]
    minutes = np.broadcast_to(minute[:, None], earlier_days.shape)
    return wall_clock_to_utc(earlier_days.ravel(), minutes.ravel()).reshape(earlier_days.shape)
