"""Pool flexibility per ISP: device flex summed with a safety margin, total and per strike price.

``device_flex_frame`` evaluates every device's state for every ISP (``available_flex``);
devices excluded by the site-exclusivity rule during an ISP contribute nothing to it.
``pool_flex_ladders`` turns that into the safe cumulative flex per strike level (the input of
the price ladder in ``domain.bidding``) and ``pool_flex`` into the rows of
``marts.fct_pool_flex_isp`` (pool_id, isp_start, up_mw, down_mw, method).

Safety margin: the pool offers the ``DEFAULT_QUANTILE`` (10 %) quantile of its flexibility
when each device responds with its availability probability (``uncertainty.py``), not the
mean: at least that much is there 9 times out of 10. Pools of up to
``MONTE_CARLO_MAX_DEVICES`` devices (or dominated by one device) use a seeded Monte Carlo,
bigger ones the normal approximation, whose error is small there (docs/bidding.md has the
measurements).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from domain.bidding.pricing import NO_STRIKE_PRICE_EUR_MWH, effective_strike
from domain.flexibility.device_flex import available_flex
from domain.flexibility.states import DEVICE_TYPE_OF, DeviceState
from domain.flexibility.uncertainty import whole_kw, whole_mw_levels
from domain.isp import Isp

#: The quantile of pool flexibility that is offered.
DEFAULT_QUANTILE = 0.10
#: Probability that a device follows a setpoint when the pool is activated (communication,
#: owner override, a car leaving early). Assumptions until delivery validation measures them.
DEFAULT_AVAILABILITY = {
    "ev_charger": 0.90,
    "heat_pump": 0.90,
    "battery": 0.95,
    "pv_inverter": 0.95,
}
#: ``auto`` uses Monte Carlo for pools up to this many devices, and for bigger pools where one
#: device holds more than ``NORMAL_MAX_DEVICE_SHARE`` of the flex in some ISP; the normal
#: approximation otherwise (it can over-offer a pool dominated by one device).
MONTE_CARLO_MAX_DEVICES = 500
NORMAL_MAX_DEVICE_SHARE = 0.02
#: Availability scenarios per Monte Carlo run.
DEFAULT_DRAWS = 2_000

DEVICE_FLEX_COLUMNS = [
    "pool_id",
    "device_id",
    "device_type",
    "isp_start",
    "up_kw",
    "down_kw",
    "availability",
    "excluded",
    "strike_price_eur_mwh",
]
LADDER_COLUMNS = [
    "pool_id",
    "isp_start",
    "direction",
    "strike_price_eur_mwh",
    "cumulative_mw",
    "method",
]
POOL_FLEX_COLUMNS = ["pool_id", "isp_start", "up_mw", "down_mw", "method"]

Period = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class PoolDevice:
    """A device as a member of a pool: its state, strike price, availability and exclusions.

    ``availability`` ``None`` takes ``DEFAULT_AVAILABILITY`` of the device type.
    ``excluded_periods`` are [from, until) periods (``None`` = open) in which the device's site
    is excluded by the exclusivity rule (``marts.site_market_status``).
    """

    pool_id: str
    state: DeviceState
    strike_price_eur_mwh: Decimal | float | None = None
    availability: float | None = None
    excluded_periods: tuple[Period, ...] = ()

    @property
    def device_type(self) -> str:
        """The registry's device_type of the state."""
        return DEVICE_TYPE_OF[type(self.state)]

    def excluded_during(self, start: datetime, end: datetime) -> bool:
        """True when an exclusion period overlaps [start, end)."""
        return any(
            begin < end and (until is None or until > start)
            for begin, until in self.excluded_periods
        )


def device_flex_frame(devices: Iterable[PoolDevice], isps: Iterable[Isp]) -> pd.DataFrame:
    """One row per device and ISP: the device's flex (0 while excluded) and its parameters."""
    isp_list = list(isps)
    rows = []
    for device in devices:
        p = device.availability
        if p is None:
            p = DEFAULT_AVAILABILITY[device.device_type]
        for isp in isp_list:
            excluded = device.excluded_during(isp.start, isp.end)
            up, down = (0.0, 0.0) if excluded else available_flex(device.state, isp.start, isp.end)
            rows.append(
                (
                    device.pool_id,
                    device.state.device_id,
                    device.device_type,
                    isp.start,
                    up,
                    down,
                    float(p),
                    excluded,
                    device.strike_price_eur_mwh,
                )
            )
    return pd.DataFrame(rows, columns=DEVICE_FLEX_COLUMNS)


def _largest_share(matrix: np.ndarray) -> float:
    """The largest share one device has of its pool's nominal flex in any ISP."""
    totals = matrix.sum(axis=1)
    busy = totals > 0
    if not busy.any():
        return 0.0
    return float((matrix[busy].max(axis=1) / totals[busy]).max())


def _choose_method(method: str, matrices: Iterable[np.ndarray]) -> str:
    """``auto``: the normal approximation only for big pools without a dominant device."""
    if method != "auto":
        return method
    matrices = list(matrices)
    big = matrices[0].shape[1] > MONTE_CARLO_MAX_DEVICES
    spread = all(_largest_share(m) <= NORMAL_MAX_DEVICE_SHARE for m in matrices)
    return "normal" if big and spread else "monte_carlo"


def _method_label(method: str, quantile: float) -> str:
    return f"{method}_q{quantile * 100:g}"


def _pool_ladder(
    pool_id: str,
    frame: pd.DataFrame,
    *,
    quantile: float,
    method: str,
    n_draws: int,
    seed: int,
    no_strike_price: Decimal,
) -> list[tuple]:
    devices = frame.drop_duplicates("device_id").copy()
    devices["strike"] = [
        effective_strike(s if pd.notna(s) else None, no_strike_price)
        for s in devices["strike_price_eur_mwh"]
    ]
    devices = devices.sort_values(["strike", "device_id"]).reset_index(drop=True)
    device_ids = devices["device_id"].tolist()
    strikes = devices["strike"].tolist()
    tier_starts = [i for i in range(len(strikes)) if i == 0 or strikes[i] != strikes[i - 1]]
    included = ~frame["excluded"].astype(bool)
    usable = frame.assign(
        up_kw=frame["up_kw"].where(included, 0.0),
        down_kw=frame["down_kw"].where(included, 0.0),
    )
    isp_starts = sorted(usable["isp_start"].unique())
    matrices = {
        direction: usable.pivot_table(
            index="isp_start", columns="device_id", values=column, aggfunc="sum"
        )
        .reindex(index=isp_starts, columns=device_ids)
        .fillna(0.0)
        .to_numpy(dtype=np.float64)
        for direction, column in (("up", "up_kw"), ("down", "down_kw"))
    }
    chosen = _choose_method(method, matrices.values())
    label = _method_label(chosen, quantile)
    rows: list[tuple] = []
    for direction, matrix in matrices.items():
        levels = whole_mw_levels(
            matrix,
            devices["availability"].to_numpy(dtype=np.float64),
            np.array(tier_starts),
            device_ids,
            quantile=quantile,
            method=chosen,
            n_draws=n_draws,
            seed=seed,
        )
        for isp_start, isp_levels in zip(isp_starts, levels, strict=True):
            for tier, kw in isp_levels:
                strike = strikes[tier_starts[tier]]
                rows.append((pool_id, isp_start, direction, strike, whole_kw(kw) / 1000, label))
    return rows


def pool_flex_ladders(
    device_flex: pd.DataFrame,
    *,
    quantile: float = DEFAULT_QUANTILE,
    method: str = "auto",
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    no_strike_price_eur_mwh: Decimal = NO_STRIKE_PRICE_EUR_MWH,
) -> pd.DataFrame:
    """Safe cumulative flex (MW) per pool, ISP, direction and strike level.

    Each row says: devices of the pool with an effective strike price <= strike_price_eur_mwh
    together give at least cumulative_mw with probability 1 - quantile. The last row of each
    pool, ISP and direction is the pool's total. ``method``: ``auto``, ``monte_carlo`` or
    ``normal``.
    """
    missing = set(DEVICE_FLEX_COLUMNS) - set(device_flex.columns) - {"device_type"}
    if missing:
        raise ValueError(f"device_flex lacks columns {sorted(missing)}")
    rows: list[tuple] = []
    for pool_id, frame in device_flex.groupby("pool_id", sort=True):
        rows += _pool_ladder(
            str(pool_id),
            frame,
            quantile=quantile,
            method=method,
            n_draws=n_draws,
            seed=seed,
            no_strike_price=no_strike_price_eur_mwh,
        )
    return pd.DataFrame(rows, columns=LADDER_COLUMNS)


def pool_flex_totals(ladders: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``marts.fct_pool_flex_isp`` from ladders: each direction's top level."""
    if ladders.empty:
        return pd.DataFrame(columns=POOL_FLEX_COLUMNS)
    top = (
        ladders.groupby(["pool_id", "isp_start", "direction"], sort=True)
        .agg(mw=("cumulative_mw", "max"), method=("method", "first"))
        .reset_index()
    )
    wide = top.pivot(index=["pool_id", "isp_start"], columns="direction", values="mw")
    methods = top.groupby(["pool_id", "isp_start"])["method"].first()
    out = pd.DataFrame(
        {
            "up_mw": wide.get("up", 0.0),
            "down_mw": wide.get("down", 0.0),
            "method": methods,
        }
    ).reset_index()
    return out[POOL_FLEX_COLUMNS]


def pool_flex(
    device_flex: pd.DataFrame,
    *,
    quantile: float = DEFAULT_QUANTILE,
    method: str = "auto",
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> pd.DataFrame:
    """Pool flexibility per ISP (up_mw, down_mw) with the safety margin, as ladders' totals."""
    ladders = pool_flex_ladders(
        device_flex, quantile=quantile, method=method, n_draws=n_draws, seed=seed
    )
    return pool_flex_totals(ladders)
