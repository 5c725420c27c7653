"""Rolling-origin backtest over whole local days: accuracy per method and horizon, and the pick.

Every whole Europe/Amsterdam local day of the series after ``BACKTEST_WARMUP_DAYS`` whole days
is a test day. Each of its minutes is forecast for every horizon exactly as it would have been
issued (``issue_baselines``: issued_at = target - horizon, the freeze rule, no fallback), so a
method sees only the data before its cut-off and the regression is fitted on the history before
its cut-off's local day. Targets inside activation blocks (activation plus recovery margin) are
not scored: they have no counterfactual measurement. Neither are targets whose measurement is
missing.

Metrics per method and horizon, over the targets that method forecast: ``mae_mw``, ``rmse_mw``,
``bias_mw`` (mean of forecast - actual), ``nmae_pct`` (MAE as % of the mean absolute actual
power over the same targets) and ``n``. Per horizon the method with the lowest MAE is
``chosen`` among the methods that forecast at least ``MIN_COVERAGE`` of the scoreable targets
(so a method is not picked on an easier subset); MAEs within ``TIE_RELATIVE`` of each other
are ties, won by the simpler method (the order of ``METHODS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise

import numpy as np
import pandas as pd

from domain.baselines.forecast import METHOD_NAMES
from domain.baselines.issuing import (
    RECOVERY_MARGIN_MIN,
    Activation,
    issue_baselines,
)
from domain.baselines.local_time import local_day_and_minute, wall_clock_to_utc
from domain.baselines.methods import SeriesLike
from domain.baselines.series import MinuteSeries, epoch_minutes, minutes_to_timestamps

BACKTEST_HORIZONS = (1, 5, 10)
#: Whole local days before the first test day: X-of-Y needs 5 of the 7 days before, and the
#: regression trains on the days before the forecast day (at least one of them complete).
BACKTEST_WARMUP_DAYS = 7
#: A method may be chosen only if it forecast at least 90 % of the scoreable targets.
MIN_COVERAGE = 0.9
#: Relative MAE difference below which two methods tie.
TIE_RELATIVE = 1e-9

ACCURACY_COLUMNS = (
    "pool_id",
    "method",
    "horizon_min",
    "mae_mw",
    "rmse_mw",
    "bias_mw",
    "nmae_pct",
    "n",
    "chosen",
)


def whole_local_days(series: SeriesLike) -> list[tuple[int, int]]:
    """``[start, end)`` epoch minutes of every local day the series spans completely."""
    minute_series = MinuteSeries.of(series)
    if len(minute_series.values) == 0:
        return []
    first_day = int(local_day_and_minute(np.array([minute_series.start]))[0][0])
    last_day = int(local_day_and_minute(np.array([minute_series.end - 1]))[0][0])
    days = np.arange(first_day, last_day + 2, dtype=np.int64)
    midnights = wall_clock_to_utc(days, np.zeros_like(days))
    return [
        (int(start), int(end))
        for start, end in pairwise(midnights)
        if start >= minute_series.start and end <= minute_series.end
    ]


def backtest(
    series: SeriesLike,
    pool_id: str,
    activations: Iterable[Activation] = (),
    *,
    methods: Sequence[str] = METHOD_NAMES,
    horizons: Sequence[int] = BACKTEST_HORIZONS,
    warmup_days: int = BACKTEST_WARMUP_DAYS,
    recovery_margin_min: int = RECOVERY_MARGIN_MIN,
) -> pd.DataFrame:
    """Accuracy per method and horizon over the test days, with the chosen method flagged.

    Columns ``ACCURACY_COLUMNS``; empty when the series has no test day after the warm-up.
    """
    minute_series = MinuteSeries.of(series)
    activations = list(activations)
    days = whole_local_days(minute_series)[warmup_days:]
    if not days:
        return pd.DataFrame(columns=list(ACCURACY_COLUMNS))
    test_start, test_end = days[0][0], days[-1][1]
    issue_times = minutes_to_timestamps(
        np.arange(test_start - max(horizons), test_end - min(horizons), dtype=np.int64)
    )
    rows = []
    for method in methods:
        issued = issue_baselines(
            minute_series,
            issue_times,
            horizons,
            dict.fromkeys(horizons, method),
            activations,
            recovery_margin_min=recovery_margin_min,
            fallback=None,
        )
        target = epoch_minutes(issued["target_ts"])
        in_test = (target >= test_start) & (target < test_end) & ~issued["frozen"].to_numpy()
        actual = minute_series.at(target)
        for horizon in horizons:
            scoreable = in_test & (issued["horizon_min"].to_numpy() == horizon) & ~np.isnan(actual)
            predicted = issued["baseline_mw"].to_numpy()
            rows.append(
                {
                    "pool_id": pool_id,
                    "method": method,
                    "horizon_min": int(horizon),
                    **score(predicted[scoreable], actual[scoreable]),
                    "scoreable": int(scoreable.sum()),
                }
            )
    accuracy = pd.DataFrame(rows)
    accuracy["chosen"] = choose(accuracy)
    return accuracy[list(ACCURACY_COLUMNS)]


def score(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float | int]:
    """MAE, RMSE, bias, nMAE and n over the pairs where the forecast exists."""
    have = ~np.isnan(predicted) & ~np.isnan(actual)
    error = predicted[have] - actual[have]
    n = int(have.sum())
    if n == 0:
        nan = float("nan")
        return {"mae_mw": nan, "rmse_mw": nan, "bias_mw": nan, "nmae_pct": nan, "n": 0}
    mae = float(np.mean(np.abs(error)))
    mean_abs_actual = float(np.mean(np.abs(actual[have])))
    return {
        "mae_mw": mae,
        "rmse_mw": float(np.sqrt(np.mean(error**2))),
        "bias_mw": float(np.mean(error)),
        "nmae_pct": 100 * mae / mean_abs_actual if mean_abs_actual > 0 else float("nan"),
        "n": n,
    }


def choose(accuracy: pd.DataFrame) -> np.ndarray:
    """Flag per (pool, horizon) the eligible method with the lowest MAE (ties: the simpler).

    Needs the columns pool_id, method, horizon_min, mae_mw, n and scoreable (targets that
    could be scored).
    """
    chosen = np.zeros(len(accuracy), dtype=bool)
    simplicity = {name: i for i, name in enumerate(METHOD_NAMES)}
    for _, group in accuracy.groupby(["pool_id", "horizon_min"], sort=False):
        eligible = group[
            (group["n"] > 0)
            & (group["n"] >= MIN_COVERAGE * group["scoreable"])
            & group["mae_mw"].notna()
        ]
        if eligible.empty:
            continue
        best = eligible["mae_mw"].min()
        ties = eligible[eligible["mae_mw"] <= best * (1 + TIE_RELATIVE)]
        winner = min(
            ties.index, key=lambda i: simplicity.get(ties.at[i, "method"], len(simplicity))
        )
        chosen[accuracy.index.get_loc(winner)] = True
    return chosen


def chosen_methods(accuracy: pd.DataFrame) -> dict[int, str]:
    """The chosen method per horizon of one pool's accuracy table (``method_by_horizon``)."""
    picked = accuracy[accuracy["chosen"]]
    if picked["pool_id"].nunique() > 1:
        raise ValueError("give the accuracy table of one pool")
    return {int(h): str(m) for h, m in zip(picked["horizon_min"], picked["method"], strict=True)}
