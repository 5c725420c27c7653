"""Baseline methods without fitted parameters: persistence, rolling mean, EWMA, X-of-Y days.

Every method is a plain function ``method(series, cutoffs, targets) -> numpy.ndarray``: pair
``i`` forecasts the series at ``targets[i]`` from the values at minutes before ``cutoffs[i]``
only (``targets[i] >= cutoffs[i]``). A method that lacks the history it needs returns NaN for
that pair instead of inventing a value. ``series`` is a pool series (``pandas.Series``, see
``domain.baselines.series``) or a ``MinuteSeries``; ``cutoffs`` and ``targets`` are tz-aware
``DatetimeIndex`` values (or ``int64`` epoch minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

from domain.baselines.local_time import same_time_days_before
from domain.baselines.series import MinuteSeries, epoch_minutes

Times: TypeAlias = pd.DatetimeIndex | np.ndarray
SeriesLike: TypeAlias = pd.Series | MinuteSeries

#: Persistence and the smoothed methods use the newest known minute only if it lies in the last
#: 15 minutes before the cut-off (one ISP); an older value is not "the meter before".
MAX_AGE_MIN = 15
#: Rolling mean: the mean of the known values of the last 15 minutes (one ISP), if at least half
#: of them are known.
ROLLING_WINDOW_MIN = 15
#: EWMA smoothing factor per minute: weights 0.1 x 0.9^k, half of the weight on the last 7 minutes.
EWMA_ALPHA = 0.1
#: EWMA window: the last 4 hours (older weights are below 1e-11 of the newest). Bounded, so a
#: forecast depends on those minutes only, not on where the history starts.
EWMA_WINDOW_MIN = 240
#: X-of-Y: the mean of the X most similar of the previous Y local days that have the values.
XOFY_X = 5
XOFY_Y = 7
#: X-of-Y level window: a day's level is its mean over the 30 minutes before the cut-off's
#: wall-clock time. Days are ranked by how close their level is to the series' own level over
#: the last 30 minutes (the most similar first), and the profile is shifted by the difference.
XOFY_LEVEL_MIN = 30


def as_pairs(
    series: SeriesLike, cutoffs: Times, targets: Times
) -> tuple[MinuteSeries, np.ndarray, np.ndarray]:
    """Check and convert one call's input: the series and the epoch minutes of the pairs."""
    minute_series = MinuteSeries.of(series)
    cut = epoch_minutes(cutoffs)
    target = epoch_minutes(targets)
    if cut.shape != target.shape:
        raise ValueError(f"{len(cut)} cut-offs but {len(target)} targets; give one per target")
    if (target < cut).any():
        raise ValueError("every target must be at or after its cut-off")
    return minute_series, cut, target


def persistence(series: SeriesLike, cutoffs: Times, targets: Times) -> np.ndarray:
    """Meter-before: the newest known minute before the cut-off (at most ``MAX_AGE_MIN`` old)."""
    minute_series, cut, _ = as_pairs(series, cutoffs, targets)
    return minute_series.newest_known(cut, MAX_AGE_MIN)


def rolling_mean(
    series: SeriesLike, cutoffs: Times, targets: Times, window_min: int = ROLLING_WINDOW_MIN
) -> np.ndarray:
    """Mean of the known values in the ``window_min`` minutes before the cut-off.

    NaN when fewer than half of them are known.
    """
    minute_series, cut, _ = as_pairs(series, cutoffs, targets)
    return minute_series.window_mean(cut - window_min, cut, min_known=window_min / 2)


def ewma(
    series: SeriesLike,
    cutoffs: Times,
    targets: Times,
    alpha: float = EWMA_ALPHA,
    window_min: int = EWMA_WINDOW_MIN,
) -> np.ndarray:
    """Exponentially weighted mean of the known values in the window before the cut-off.

    Weights ``(1 - alpha)^k`` for the k-th newest known minute of the last ``window_min``
    minutes (missing minutes are skipped), normalised to sum to 1; NaN when the newest known
    minute is older than ``MAX_AGE_MIN``.
    """
    minute_series, cut, _ = as_pairs(series, cutoffs, targets)
    out = np.full(cut.shape, np.nan)
    fresh = np.flatnonzero(~np.isnan(minute_series.newest_known(cut, MAX_AGE_MIN)))
    back = np.arange(1, window_min + 1)  # newest first
    for chunk in np.array_split(fresh, max(1, len(fresh) // 4096)):
        values = minute_series.at(cut[chunk, None] - back[None, :])
        known = ~np.isnan(values)
        weights = np.where(known, (1 - alpha) ** (np.cumsum(known, axis=1) - 1), 0.0)
        out[chunk] = (weights * np.where(known, values, 0.0)).sum(axis=1) / weights.sum(axis=1)
    return out


def same_time_x_of_y(
    series: SeriesLike,
    cutoffs: Times,
    targets: Times,
    x: int = XOFY_X,
    y: int = XOFY_Y,
    level_min: int = XOFY_LEVEL_MIN,
) -> np.ndarray:
    """Same time of day, X most similar of Y days, with an additive day-of level adjustment.

    Candidate day ``k`` (1..``y``) is the pair moved back ``k`` local days: the same
    Europe/Amsterdam wall-clock times ``k`` days earlier (daylight-saving correct, see
    ``domain.baselines.local_time``). Its value is the series at the target's time; its level
    the mean over the ``level_min`` minutes from the wall-clock time ``level_min`` minutes
    before the cut-off (at least half of them known). A day qualifies when both are known
    before the cut-off. The ``x`` qualifying days whose level is closest to the series' own
    level (the last ``level_min`` minutes before the cut-off) are chosen, ties to the more
    recent day. The forecast is their mean value plus (own level - their mean level). NaN when
    fewer than ``x`` days qualify or the own level is unknown.
    """
    minute_series, cut, target = as_pairs(series, cutoffs, targets)
    return x_of_y_parts(minute_series, cut, target, x, y, level_min).forecast


@dataclass(frozen=True)
class XofYParts:
    """The pieces of an X-of-Y forecast (the regression uses them as features)."""

    profile: np.ndarray  # mean of the chosen days at the target's time of day
    profile_level: np.ndarray  # the chosen days' mean level before the cut-off's time of day
    level: np.ndarray  # the series' own level before the cut-off

    @property
    def forecast(self) -> np.ndarray:
        """The profile shifted by the day-of level difference."""
        return self.profile + (self.level - self.profile_level)


def x_of_y_parts(
    minute_series: MinuteSeries,
    cut: np.ndarray,
    target: np.ndarray,
    x: int = XOFY_X,
    y: int = XOFY_Y,
    level_min: int = XOFY_LEVEL_MIN,
) -> XofYParts:
    """Compute the X-of-Y profile, its level and the own level for pairs of epoch minutes."""
    if not 1 <= x <= y:
        raise ValueError(f"X-of-Y needs 1 <= x <= y, got x={x}, y={y}")
    earlier = same_time_days_before(np.concatenate((target, cut - level_min)), np.arange(1, y + 1))
    at_target = earlier[: len(target)]  # (n, y) epoch minutes, most recent day first
    level_start = earlier[len(target) :]
    day_value = minute_series.at(at_target)
    day_level = minute_series.window_mean(level_start, level_start + level_min, level_min / 2)
    level = minute_series.window_mean(cut - level_min, cut, min_known=level_min / 2)
    usable = (
        ~np.isnan(day_value)
        & ~np.isnan(day_level)
        & (at_target < cut[:, None])
        & (level_start + level_min <= cut[:, None])
    )
    distance = np.where(usable, np.abs(day_level - level[:, None]), np.inf)
    distance[np.isnan(distance)] = np.inf  # own level unknown: no day is chosen
    # rank of each day by distance, ties to the more recent day (a stable sort)
    order = np.argsort(distance, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(y)[None, :].repeat(len(cut), axis=0), axis=1)
    chosen = usable & (rank < x) & np.isfinite(distance)
    enough = chosen.sum(axis=1) == x
    profile = np.where(chosen, day_value, 0.0).sum(axis=1) / x
    profile_level = np.where(chosen, day_level, 0.0).sum(axis=1) / x
    profile[~enough] = np.nan
    profile_level[~enough] = np.nan
    return XofYParts(profile, profile_level, level)
