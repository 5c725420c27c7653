"""TenneT's settlement prices per ISP ("Onbalansprijzen"), parsed from their CSV columns.

The official TenneT download has one row per ISP with these columns (all prices EUR/MWh):

* ``Timeinterval Start Loc`` / ``Timeinterval End Loc``: Europe/Amsterdam wall-clock time
  without offset; ``Isp``: 1..92/96/100 within the local day. On the autumn DST day the hour
  02:00-03:00 appears twice, so the ISP number, not the local time, identifies the period.
* ``Price Dispatch Up`` / ``Price Dispatch Down``: the highest activated upward and the lowest
  activated downward regulation price; empty when nothing was activated in that direction.
  These are the **activation prices** of balancing energy.
* ``Price Shortage``: what a BRP that is **short** (took more from the system than it
  nominated) pays per MWh of imbalance. ``Price Surplus``: what a BRP that is **long** (fed
  more in) receives per MWh. A negative price reverses who pays.
* ``Regulation State`` 0, 1, -1 or 2 (``Regulating Condition`` STABLE, UP, DOWN, UP_AND_DOWN).
  In state 2 the shortage and surplus prices differ: **dual pricing**.
* ``Incident Reserve Up`` / ``Down``: YES/NO (``Down`` is empty when ``Up`` is YES).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from domain.dispatch.direction import Direction
from domain.isp import MARKET_TZ, isps_of_day

TENNET_SOURCE = "tennet_settlement_prices"
REGULATING_CONDITIONS = {0: "STABLE", 1: "UP", -1: "DOWN", 2: "UP_AND_DOWN"}


@dataclass(frozen=True)
class IspPrices:
    """The published prices of one ISP (EUR/MWh), with the ISP's UTC start."""

    isp_start: datetime
    local_date: date
    isp_number: int
    price_dispatch_up_eur_mwh: Decimal | None
    price_dispatch_down_eur_mwh: Decimal | None
    price_shortage_eur_mwh: Decimal
    price_surplus_eur_mwh: Decimal
    regulation_state: int
    incident_reserve_up: bool
    incident_reserve_down: bool | None
    source: str = TENNET_SOURCE

    @property
    def is_dual_priced(self) -> bool:
        """Return whether short and long imbalance are settled at different prices."""
        return self.price_shortage_eur_mwh != self.price_surplus_eur_mwh

    def dispatch_price(self, direction: Direction) -> Decimal | None:
        """Return the activation price of ``direction`` (None when nothing was activated)."""
        if direction is Direction.UP:
            return self.price_dispatch_up_eur_mwh
        return self.price_dispatch_down_eur_mwh


def _price(row: Mapping[str, str], column: str, *, required: bool) -> Decimal | None:
    raw = (row.get(column) or "").strip()
    if not raw:
        if required:
            raise ValueError(f"{column} is empty")
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{column} {raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{column} {raw!r} is not a finite number")
    return value


def _flag(row: Mapping[str, str], column: str) -> bool | None:
    raw = (row.get(column) or "").strip().upper()
    if raw not in ("YES", "NO", ""):
        raise ValueError(f"{column} {raw!r} is not YES or NO")
    return None if not raw else raw == "YES"


def parse_tennet_row(row: Mapping[str, str]) -> IspPrices:
    """Parse one row of TenneT's settlement-price CSV (a ``csv.DictReader`` row)."""
    for column, expected in (("Currency Unit Name", "EUR"), ("Price Measurement Unit Name", "MWh")):
        if (row.get(column) or "").strip() != expected:
            raise ValueError(f"{column} is {row.get(column)!r}, expected {expected}")
    start_local = datetime.fromisoformat(row["Timeinterval Start Loc"].strip())
    local_date = start_local.date()
    number = int(row["Isp"])
    isps = isps_of_day(local_date)
    if not 1 <= number <= len(isps):
        raise ValueError(f"Isp {number} does not exist on {local_date} ({len(isps)} ISPs)")
    isp = isps[number - 1]
    if isp.start.astimezone(MARKET_TZ).replace(tzinfo=None) != start_local:
        raise ValueError(f"Isp {number} of {local_date} does not start at {start_local}")
    state = int(row["Regulation State"])
    if state not in REGULATING_CONDITIONS:
        raise ValueError(f"Regulation State {state} is not one of 0, 1, -1, 2")
    shortage = _price(row, "Price Shortage", required=True)
    surplus = _price(row, "Price Surplus", required=True)
    assert shortage is not None and surplus is not None
    return IspPrices(
        isp_start=isp.start,
        local_date=local_date,
        isp_number=number,
        price_dispatch_up_eur_mwh=_price(row, "Price Dispatch Up", required=False),
        price_dispatch_down_eur_mwh=_price(row, "Price Dispatch Down", required=False),
        price_shortage_eur_mwh=shortage,
        price_surplus_eur_mwh=surplus,
        regulation_state=state,
        incident_reserve_up=bool(_flag(row, "Incident Reserve Up")),
        incident_reserve_down=_flag(row, "Incident Reserve Down"),
    )


def parse_tennet_settlement_prices(rows: Iterable[Mapping[str, str]]) -> list[IspPrices]:
    """Parse TenneT settlement-price rows into prices per ISP, sorted by UTC start.

    The file's own order is by local time string, which on the autumn DST day interleaves the
    two 02:00 hours; the ISP number is what places a row. A repeated ISP is refused.
    """
    by_start: dict[datetime, IspPrices] = {}
    for line, row in enumerate(rows, start=2):
        try:
            prices = parse_tennet_row(row)
        except KeyError as missing:
            raise ValueError(f"settlement prices, line {line}: no column {missing}") from None
        except ValueError as problem:
            raise ValueError(f"settlement prices, line {line}: {problem}") from None
        if prices.isp_start in by_start:
            raise ValueError(
                f"settlement prices, line {line}: Isp {prices.isp_number} of"
                f" {prices.local_date} appears twice"
            )
        by_start[prices.isp_start] = prices
    return [by_start[start] for start in sorted(by_start)]
