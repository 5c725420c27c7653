"""Real pool series for the baseline tests, built from the project's own simulator profiles.

``device_power`` replays the bundled real data (heat pumps: Eastern Docklands; households:
Liander Zonnedael and WPuQ) and shapes EV, PV and battery power from real statistics (see
``simulators/profiles.py``). A pool's series is the sum over its sample-fleet members at 60 s,
each device counted only while its membership is valid, in MW, offtake positive, as
``marts.fct_pool_power`` sums them.

Pools used by the tests:

- ``POOL-IMBALANCE-3``: 20 heat pumps and 4 households, all real replays.
- ``HOUSEHOLDS``: every ``other`` device of the sample fleet (41 real household replays). Not a
  registered pool: the sample has no household pool, and this is the real-data case for it.
- ``POOL-MFRR-1``: mixed; 40 EV chargers, 26 PV inverters, 6 heat pumps, 3 batteries, 1 household.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from domain.isp import MARKET_TZ
from simulators.profiles import device_power, load_real_profiles

REPO = Path(__file__).resolve().parents[3]
REGISTRY = REPO / "data" / "sample" / "registry" / "2025-01-01_initial"
HOUSEHOLDS = "HOUSEHOLDS"
TEST_POOLS = ("POOL-IMBALANCE-3", HOUSEHOLDS, "POOL-MFRR-1")
#: 14 local days ending with the demo day 2025-02-27.
FIRST_DAY = date(2025, 2, 14)
LAST_DAY = date(2025, 2, 27)


def local_midnight(day: date) -> datetime:
    """00:00 Europe/Amsterdam of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=MARKET_TZ)


def members(pool_id: str) -> pd.DataFrame:
    """Device rows and membership periods of a pool (``HOUSEHOLDS``: every ``other`` device)."""
    devices = pd.read_csv(REGISTRY / "devices.csv", dtype=str)
    if pool_id == HOUSEHOLDS:
        rows = devices[devices["device_type"] == "other"].copy()
        rows["valid_from"] = None
        rows["valid_to"] = None
        return rows
    memberships = pd.read_csv(REGISTRY / "memberships.csv", dtype=str)
    memberships = memberships[memberships["pool_id"] == pool_id]
    return memberships.merge(devices, on="device_id")


def pool_series(pool_id: str, first_day: date, last_day: date) -> pd.Series:
    """The pool's power (MW) on the 1-minute UTC grid of local days first_day..last_day."""
    start = local_midnight(first_day)
    end = local_midnight(last_day + timedelta(days=1))
    index = pd.date_range(start, end, freq="1min", inclusive="left").tz_convert("UTC")
    total_w = np.zeros(len(index))
    profiles = load_real_profiles()
    for row in members(pool_id).to_dict("records"):
        device = {key: str(row[key]) for key in ("device_id", "device_type", "site_id")}
        device["rated_power_kw"] = str(row["rated_power_kw"])
        _, power_w = device_power(device, start, end, 60, profiles)
        valid = np.ones(len(index), dtype=bool)
        if isinstance(row.get("valid_from"), str):
            valid &= index >= pd.Timestamp(row["valid_from"])
        if isinstance(row.get("valid_to"), str):
            valid &= index < pd.Timestamp(row["valid_to"])
        total_w += np.where(valid, power_w, 0.0)
    return pd.Series(total_w / 1e6, index=index, name=pool_id)


def real_pools(first_day: date = FIRST_DAY, last_day: date = LAST_DAY) -> dict[str, pd.Series]:
    """The test pools over the given local days."""
    return {pool_id: pool_series(pool_id, first_day, last_day) for pool_id in TEST_POOLS}
