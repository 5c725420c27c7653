"""Baselines: the backtest that picks methods, and the baselines issued every minute."""

import dagster as dg

from assets.baselines.backtest import baseline_backtests
from assets.baselines.issuing import pool_baselines

defs = dg.Definitions(assets=[baseline_backtests, pool_baselines])
