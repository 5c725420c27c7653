"""Regression baseline: least squares on recent lags and the same-time-of-day day shape.

The model predicts the change from the newest known minute (``last``, as persistence) to the
target, from features known at the cut-off:

- ``mean_w - last`` for the means of the last 5, 15 and 60 minutes (recent lags: momentum and
  mean reversion);
- time of day, through the X-of-Y day shape: ``profile(target) - profile_level`` and
  ``level - last`` (the pieces of ``same_time_x_of_y``: what the most similar earlier days did
  between the cut-off's and the target's wall-clock time), so the fit weighs that method
  against persistence;
- a constant.

Explicit time-of-day terms (sine and cosine of the first two daily harmonics) were tried and
dropped: without them the 10-minute backtest MAE changed by -3.3 % to +1.3 % per sample pool,
and as they also encode the step, with them a step beyond the fitted ones was off by 0.17 on
a noise-free daily sine of amplitude 0.2. The day shape carries the time of day without that.

There is one model per step ``s = target - cut-off`` in ``REGRESSION_STEPS``. A step between two
models uses the pair's features with the linear interpolation of the two models' coefficients;
beyond the largest step (a day) the forecast is the X-of-Y forecast (``last`` plus both shape
features): so the method handles any horizon from any cut-off.

Fitting (ordinary least squares, ``numpy.linalg.lstsq``) uses only pairs whose target lies
before ``until``, over the ``REGRESSION_TRAIN_DAYS`` days before it. Without a given fit,
``regression`` fits the models it needs per Europe/Amsterdam local day of the cut-off, on the
history before that day's local midnight: a forecast depends only on data before its cut-off
and on nothing else in the call, and issuing it again gives the same number. Least squares,
not least absolute deviations: LAD (tried through reweighting) lowered the 10-minute MAE by at
most 1.5 % but doubled the bias, and delivered energy is a sum, where bias counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from domain.baselines.local_time import MINUTES_PER_DAY, local_day_and_minute, wall_clock_to_utc
from domain.baselines.methods import (
    MAX_AGE_MIN,
    XOFY_Y,
    SeriesLike,
    Times,
    as_pairs,
    x_of_y_parts,
)
from domain.baselines.series import MinuteSeries, epoch_minutes

#: Steps (target minus cut-off, minutes) with a model of their own. Horizon h issued at
#: ``issued_at`` has step h, so the issued horizons 1, 5 and 10 use their own model.
REGRESSION_STEPS = (0, 1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 1440)
#: Training window: the 7 local days before the forecast day (fewer if the history is shorter).
REGRESSION_TRAIN_DAYS = 7
#: Training pairs have a cut-off every 3 minutes (a third of the work, the same accuracy).
REGRESSION_TRAIN_STRIDE_MIN = 3
#: A step's model needs one day of complete training rows, else it forecasts NaN.
REGRESSION_MIN_ROWS = MINUTES_PER_DAY // REGRESSION_TRAIN_STRIDE_MIN
#: Lag windows (minutes before the cut-off) whose means are features.
REGRESSION_LAG_WINDOWS_MIN = (5, 15, 60)
#: Local days before the forecast day that a fit reads: the training days, the X-of-Y days of
#: their earliest rows, and one spare (lag windows, a 25-hour day). Give at least this much
#: history and the fit, so every forecast, is the same whatever longer history is given.
REGRESSION_HISTORY_DAYS = REGRESSION_TRAIN_DAYS + XOFY_Y + 1

_SHAPE = "xofy_profile_minus_profile_level"
_LEVEL = "xofy_level_minus_last"
FEATURES = (
    "constant",
    *(f"mean_{w}min_minus_last" for w in REGRESSION_LAG_WINDOWS_MIN),
    _SHAPE,
    _LEVEL,
)


@dataclass(frozen=True, eq=False)
class RegressionFit:
    """Coefficients per step, fitted on pairs whose target is before epoch minute ``until``.

    Row ``i`` of ``coefficients`` belongs to ``REGRESSION_STEPS[i]``; it is NaN for a step that
    was not asked for (``steps``) or had fewer than ``REGRESSION_MIN_ROWS`` training rows.
    """

    until: int
    steps: tuple[int, ...]
    coefficients: np.ndarray  # (len(REGRESSION_STEPS), len(FEATURES))
    training_rows: tuple[int, ...]  # per REGRESSION_STEPS entry

    @property
    def until_timestamp(self) -> pd.Timestamp:
        """``until`` as a UTC timestamp."""
        return pd.Timestamp(self.until * 60, unit="s", tz="UTC")


def features(
    minute_series: MinuteSeries, cut: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The feature matrix (n, len(FEATURES)) and the base value ``last`` of each pair."""
    last = minute_series.newest_known(cut, MAX_AGE_MIN)
    columns = [np.ones(len(cut))]
    for window in REGRESSION_LAG_WINDOWS_MIN:
        columns.append(minute_series.window_mean(cut - window, cut, window / 2) - last)
    parts = x_of_y_parts(minute_series, cut, target)
    columns.append(parts.profile - parts.profile_level)
    columns.append(parts.level - last)
    return np.column_stack(columns), last


def step_models(step: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The models that forecast each step, and how they are weighted.

    Returns the indices (in ``REGRESSION_STEPS``) of the models below and above each step and
    the weight of the one above (linear interpolation; beyond the last step: the last model,
    which ``regression`` replaces by the X-of-Y forecast).
    """
    grid = np.asarray(REGRESSION_STEPS)
    step = np.minimum(np.asarray(step, dtype=np.int64), grid[-1])
    upper = np.searchsorted(grid, step, side="left")
    lower = np.where(grid[upper] == step, upper, upper - 1)
    span = np.maximum(grid[upper] - grid[lower], 1)
    weight = np.where(upper == lower, 0.0, (step - grid[lower]) / span)
    return lower, upper, weight


def fit_regression(
    series: SeriesLike, until: pd.Timestamp | int, steps: Sequence[int] = REGRESSION_STEPS
) -> RegressionFit:
    """Fit the models of ``steps`` on the pairs with target before ``until``.

    ``until`` is a tz-aware timestamp or an epoch minute. Each step's model is fitted on its
    own rows, so fitting fewer steps gives the same coefficients for those steps.
    """
    unknown = set(steps) - set(REGRESSION_STEPS)
    if unknown:
        raise ValueError(f"steps {sorted(unknown)} have no model; choose from {REGRESSION_STEPS}")
    minute_series = MinuteSeries.of(series)
    if isinstance(until, int | np.integer):
        until_min = int(until)
    else:
        until_min = int(epoch_minutes(pd.DatetimeIndex([until]))[0])
    fitted = tuple(sorted(set(steps)))
    first = max(until_min - REGRESSION_TRAIN_DAYS * MINUTES_PER_DAY, minute_series.start)
    cuts = [
        np.arange(until_min - step - 1, first - 1, -REGRESSION_TRAIN_STRIDE_MIN)[::-1]
        for step in fitted
    ]
    sizes = [len(c) for c in cuts]
    cut = np.concatenate(cuts) if cuts else np.empty(0, dtype=np.int64)
    target = cut + np.repeat(np.asarray(fitted, dtype=np.int64), sizes)
    x, last = features(minute_series, cut, target)
    y = minute_series.at(target) - last
    complete = np.isfinite(x).all(axis=1) & np.isfinite(y)
    row_step = np.repeat(np.asarray(fitted, dtype=np.int64), sizes)
    coefficients = np.full((len(REGRESSION_STEPS), len(FEATURES)), np.nan)
    rows = [0] * len(REGRESSION_STEPS)
    for step in fitted:
        i = REGRESSION_STEPS.index(step)
        use = complete & (row_step == step)
        rows[i] = int(use.sum())
        if rows[i] >= REGRESSION_MIN_ROWS:
            coefficients[i] = _least_squares(x[use], y[use])
    coefficients.flags.writeable = False
    return RegressionFit(until_min, fitted, coefficients, tuple(rows))


def _least_squares(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients through the normal equations (minimum norm if collinear)."""
    return np.linalg.lstsq(x.T @ x, x.T @ y, rcond=None)[0]


def _predict(
    fit: RegressionFit, minute_series: MinuteSeries, cut: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """Forecasts of one fit, interpolated between the models of the surrounding steps."""
    x, last = features(minute_series, cut, target)
    lower, upper, weight = step_models(target - cut)
    from_lower = np.einsum("ij,ij->i", x, fit.coefficients[lower])
    from_upper = np.where(weight > 0, np.einsum("ij,ij->i", x, fit.coefficients[upper]), 0.0)
    modelled = last + (1 - weight) * from_lower + weight * from_upper
    # beyond the largest step: the X-of-Y forecast, last + (profile - its level) + (level - last)
    x_of_y = last + x[:, FEATURES.index(_SHAPE)] + x[:, FEATURES.index(_LEVEL)]
    return np.where(target - cut > REGRESSION_STEPS[-1], x_of_y, modelled)


def steps_needed(cut: np.ndarray, target: np.ndarray) -> tuple[int, ...]:
    """The model steps that forecasting these pairs uses."""
    step = target - cut
    modelled = step <= REGRESSION_STEPS[-1]
    lower, upper, weight = step_models(step[modelled])
    used = np.union1d(lower, upper[weight > 0])
    return tuple(REGRESSION_STEPS[i] for i in used)


def regression(
    series: SeriesLike, cutoffs: Times, targets: Times, fitted: RegressionFit | None = None
) -> np.ndarray:
    """Regression forecast of each pair (see the module docstring).

    With ``fitted``, that fit serves every pair; it must have been fitted on data before every
    cut-off (``ValueError`` otherwise, it would look ahead). Without it, each pair uses the fit
    on the history before its cut-off's local day.
    """
    minute_series, cut, target = as_pairs(series, cutoffs, targets)
    out = np.full(cut.shape, np.nan)
    if len(cut) == 0:
        return out
    if fitted is not None:
        if fitted.until > cut.min():
            raise ValueError(
                f"the fit uses data up to {fitted.until_timestamp}, after the earliest cut-off"
            )
        return _predict(fitted, minute_series, cut, target)
    day = local_day_and_minute(cut)[0]
    for one_day in np.unique(day):
        in_day = day == one_day
        midnight = int(wall_clock_to_utc(np.array([one_day]), np.array([0]))[0])
        fit = fit_regression(minute_series, midnight, steps_needed(cut[in_day], target[in_day]))
        out[in_day] = _predict(fit, minute_series, cut[in_day], target[in_day])
    return out
