"""Pool baselines: forecasts of pool power 1, 5 and 10 minutes ahead, and their backtest.

Pure logic (numpy/pandas, no Dagster, no database). A pool series is a ``pandas.Series`` of
pool power in MW on a 1-minute UTC grid (``series``); every method forecasts a target from the
data before a cut-off (``methods``, ``regression``, dispatched by ``forecast``);
``issue_baselines`` issues them every minute with the activation freeze (``issuing``);
``backtest`` scores the methods on history and picks one per horizon (``backtest``).
See ``docs/baselines.md``.
"""

from __future__ import annotations

from domain.baselines.backtest import (
    ACCURACY_COLUMNS,
    BACKTEST_HORIZONS,
    backtest,
    chosen_methods,
    whole_local_days,
)
from domain.baselines.forecast import METHOD_NAMES, METHODS, forecast
from domain.baselines.issuing import (
    BASELINE_COLUMNS,
    RECOVERY_MARGIN_MIN,
    activation_blocks,
    issue_baselines,
)
from domain.baselines.methods import ewma, persistence, rolling_mean, same_time_x_of_y
from domain.baselines.regression import (
    REGRESSION_HISTORY_DAYS,
    RegressionFit,
    fit_regression,
    regression,
)
from domain.baselines.series import MinuteSeries

__all__ = [
    "ACCURACY_COLUMNS",
    "BACKTEST_HORIZONS",
    "BASELINE_COLUMNS",
    "METHODS",
    "METHOD_NAMES",
    "RECOVERY_MARGIN_MIN",
    "REGRESSION_HISTORY_DAYS",
    "MinuteSeries",
    "RegressionFit",
    "activation_blocks",
    "backtest",
    "chosen_methods",
    "ewma",
    "fit_regression",
    "forecast",
    "issue_baselines",
    "persistence",
    "regression",
    "rolling_mean",
    "same_time_x_of_y",
    "whole_local_days",
]
