"""Real pool series shared by the baseline tests (built once per session, ~1 s)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from baseline_pools import TEST_POOLS, pool_series, real_pools

from domain.baselines.backtest import backtest


@pytest.fixture(scope="session")
def pools() -> dict[str, pd.Series]:
    """The test pools over 2025-02-14..2025-02-27 (14 local days), 1-minute MW series."""
    return real_pools()


@pytest.fixture(scope="session")
def accuracy(pools: dict[str, pd.Series]) -> pd.DataFrame:
    """The backtest table of every test pool."""
    return pd.concat([backtest(pools[pool_id], pool_id) for pool_id in TEST_POOLS])


@pytest.fixture(scope="session")
def spring_forward_pool() -> pd.Series:
    """The heat-pump pool over 2025-03-21..2025-03-31 (2025-03-30 lasts 23 hours)."""
    return pool_series("POOL-IMBALANCE-3", date(2025, 3, 21), date(2025, 3, 31))


@pytest.fixture(scope="session")
def fall_back_pool() -> pd.Series:
    """The heat-pump pool over 2025-10-17..2025-10-27 (2025-10-26 lasts 25 hours)."""
    return pool_series("POOL-IMBALANCE-3", date(2025, 10, 17), date(2025, 10, 27))
