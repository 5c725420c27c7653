"""One entry point for every baseline method: ``forecast(method, series, cutoffs, targets)``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from domain.baselines.methods import (
    SeriesLike,
    Times,
    ewma,
    persistence,
    rolling_mean,
    same_time_x_of_y,
)
from domain.baselines.regression import RegressionFit, regression

#: The methods by the name stored in ``method`` columns, simplest first (ties go to the first).
METHODS: dict[str, Callable[..., np.ndarray]] = {
    "persistence": persistence,
    "rolling_mean": rolling_mean,
    "ewma": ewma,
    "x_of_y": same_time_x_of_y,
    "regression": regression,
}
METHOD_NAMES = tuple(METHODS)


def forecast(
    method: str,
    series: SeriesLike,
    cutoffs: Times,
    targets: Times,
    fitted: RegressionFit | None = None,
) -> np.ndarray:
    """Forecast ``series`` at each target from the data before its cut-off, with ``method``.

    Pair ``i`` is one forecast: ``targets[i]`` from the values at minutes before
    ``cutoffs[i]``. A normal issue has cut-off = issued_at, a frozen one the activation start.
    ``fitted`` is a ``RegressionFit`` (regression only; by default each cut-off's local day is
    fitted on the history before it). NaN where the method lacks the history it needs.
    """
    if method not in METHODS:
        raise ValueError(f"unknown baseline method {method!r}; known: {', '.join(METHODS)}")
    if method == "regression":
        return regression(series, cutoffs, targets, fitted=fitted)
    if fitted is not None:
        raise ValueError(f"method {method!r} has no fitted parameters")
    return METHODS[method](series, cutoffs, targets)
