"""A pool series on a 1-minute grid, indexed by whole UTC minutes since the Unix epoch.

A pool series is a ``pandas.Series`` of pool power in MW, ``DatetimeIndex`` tz-aware, on a
regular 1-minute grid; the value at ``t`` is the mean power over [t, t + 1 min) and a missing
minute is NaN. ``MinuteSeries.of`` checks that and puts it on a complete grid (absent minutes
become NaN), so every method can work with plain integer arithmetic: a time is an ``int64``
count of minutes since 1970-01-01 00:00 UTC ("epoch minute").

Nothing here looks ahead, and nothing depends on where the history starts. Window sums come
from prefix sums in exact integer arithmetic (values counted in whole ``1 / QUANTA_PER_MW`` MW,
i.e. milliwatts, far below the 1 W resolution of pool power), so the sum over [lo, hi) depends
only on the values in [lo, hi): the same window gives the same number however long the series
before it is. Every query clips to the series and treats minutes outside it as missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

#: Stands for "no such minute" (e.g. a wall-clock time skipped by daylight saving). Far from
#: any real epoch minute, so lookups read NaN, and small offsets around it do not overflow.
MISSING_MINUTE = np.int64(-(2**60))

_NS_PER_MINUTE = 60_000_000_000
#: Window sums count power in whole milliwatts (1e-9 MW) as int64: exact, and a 1 GW pool
#: over 17 years of minutes still fits.
QUANTA_PER_MW = 1e9


def epoch_minutes(times: pd.DatetimeIndex | pd.Series | np.ndarray) -> np.ndarray:
    """Whole minutes since the Unix epoch (``int64``) of tz-aware timestamps.

    Also accepts an ``int64`` array, returned as is (already epoch minutes). Raises
    ``ValueError`` for naive timestamps, NaT, or timestamps that are not whole minutes.
    """
    if isinstance(times, np.ndarray) and times.dtype.kind in "iu":
        return times.astype(np.int64, copy=False)
    index = pd.DatetimeIndex(times)
    if index.tz is None:
        raise ValueError("timestamps must be timezone-aware (UTC inside)")
    if index.hasnans:
        raise ValueError("timestamps must not be NaT")
    ns = index.tz_convert("UTC").as_unit("ns").asi8
    minutes, rest = np.divmod(ns, _NS_PER_MINUTE)
    if rest.any():
        raise ValueError("timestamps must be whole minutes")
    return minutes.astype(np.int64)


def minutes_to_timestamps(minutes: np.ndarray) -> pd.DatetimeIndex:
    """UTC ``DatetimeIndex`` of epoch minutes."""
    ns = np.asarray(minutes, dtype=np.int64) * _NS_PER_MINUTE
    return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")


@dataclass(frozen=True, eq=False)
class MinuteSeries:
    """Pool power (MW) on a complete 1-minute grid starting at epoch minute ``start``."""

    start: int
    values: np.ndarray  # float64, read-only, NaN = missing minute

    @classmethod
    def of(cls, series: pd.Series | MinuteSeries) -> MinuteSeries:
        """Check a pool series and put it on a complete grid (a ``MinuteSeries`` passes through).

        Raises ``ValueError`` when the index is not tz-aware, not whole minutes, not
        increasing, or has duplicates.
        """
        if isinstance(series, MinuteSeries):
            return series
        if not isinstance(series.index, pd.DatetimeIndex):
            raise ValueError("a pool series needs a DatetimeIndex")
        minutes = epoch_minutes(series.index)
        values = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        if len(minutes) == 0:
            return cls(0, _readonly(np.empty(0)))
        steps = np.diff(minutes)
        if (steps <= 0).any():
            raise ValueError("the index of a pool series must be increasing without duplicates")
        start = int(minutes[0])
        grid = np.full(int(minutes[-1]) - start + 1, np.nan)
        grid[minutes - start] = values
        return cls.from_values(start, grid)

    @classmethod
    def from_values(cls, start: int, values: np.ndarray) -> MinuteSeries:
        """A series starting at epoch minute ``start`` (non-finite values become missing)."""
        grid = np.array(values, dtype=np.float64)
        grid[~np.isfinite(grid)] = np.nan
        return cls(int(start), _readonly(grid))

    @property
    def end(self) -> int:
        """Epoch minute just after the last one of the series."""
        return self.start + len(self.values)

    def to_pandas(self) -> pd.Series:
        """The series as a pandas Series on its complete UTC grid."""
        index = minutes_to_timestamps(np.arange(self.start, self.end, dtype=np.int64))
        return pd.Series(self.values.copy(), index=index, name="power_mw")

    def at(self, minutes: np.ndarray) -> np.ndarray:
        """Value at each epoch minute; NaN outside the series."""
        minutes = np.asarray(minutes, dtype=np.int64)
        position = minutes - self.start
        inside = (position >= 0) & (position < len(self.values))
        out = np.full(minutes.shape, np.nan)
        out[inside] = self.values[position[inside]]
        return out

    @cached_property
    def _prefix(self) -> tuple[np.ndarray, np.ndarray]:
        """Prefix sums (int64 milliwatts) of the known values and prefix counts (length n + 1)."""
        known = ~np.isnan(self.values)
        quanta = np.rint(np.where(known, self.values, 0.0) * QUANTA_PER_MW)
        if np.abs(quanta).sum() >= 2.0**62:
            raise ValueError("pool series too large for exact window sums")
        sums = np.concatenate(([0], np.cumsum(quanta.astype(np.int64))))
        counts = np.concatenate(([0], np.cumsum(known)))
        return sums, counts

    def window(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sum (MW) and count of the known values in each window [lo, hi) of epoch minutes."""
        sums, counts = self._prefix
        n = len(self.values)
        a = np.clip(np.asarray(lo, dtype=np.int64) - self.start, 0, n)
        b = np.clip(np.asarray(hi, dtype=np.int64) - self.start, 0, n)
        b = np.maximum(a, b)
        return (sums[b] - sums[a]) / QUANTA_PER_MW, counts[b] - counts[a]

    def window_mean(self, lo: np.ndarray, hi: np.ndarray, min_known: float) -> np.ndarray:
        """Mean of the known values in [lo, hi); NaN where fewer than ``min_known`` are known."""
        total, count = self.window(lo, hi)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
        return np.where((count >= min_known) & (count > 0), mean, np.nan)

    @cached_property
    def _last_known(self) -> np.ndarray:
        """Position of the newest known minute at or before each position (-1: none)."""
        positions = np.where(~np.isnan(self.values), np.arange(len(self.values)), -1)
        return np.maximum.accumulate(positions) if len(positions) else positions

    def newest_known(self, before: np.ndarray, max_age: int) -> np.ndarray:
        """Value of the newest known minute in [before - max_age, before); NaN if none."""
        before = np.asarray(before, dtype=np.int64)
        n = len(self.values)
        last = np.clip(before - 1 - self.start, -1, n - 1)
        out = np.full(before.shape, np.nan)
        has = last >= 0
        found = np.full(before.shape, -1, dtype=np.int64)
        found[has] = self._last_known[last[has]]
        fresh = (found >= 0) & (found + self.start >= before - max_age)
        out[fresh] = self.values[found[fresh]]
        return out


def _readonly(values: np.ndarray) -> np.ndarray:
    values = np.ascontiguousarray(values, dtype=np.float64)
    values.flags.writeable = False
    return values
