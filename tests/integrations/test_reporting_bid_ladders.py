"""The bid ladder per gate, a table per pool (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from integrations.reporting.bid_ladders import ladders_by_pool

ISP = datetime(2025, 2, 27, 10, 0, tzinfo=UTC)  # 11:00 in Amsterdam
GATE = ISP - timedelta(minutes=25)


@dataclass(frozen=True)
class Bid:
    pool_id: str
    isp_start: datetime
    gate_closes_at: datetime
    direction: str
    step: int
    quantity_mw: int
    price_eur_mwh: D
    status: str


def test_one_row_per_gate_and_direction_with_the_steps_cheapest_first():
    q = timedelta(minutes=15)
    bids = [
        Bid("POOL-AFRR-1", ISP, GATE, "up", 2, 3, D("180.00"), "accepted"),
        Bid("POOL-AFRR-1", ISP, GATE, "up", 1, 1, D("95.50"), "accepted"),
        Bid("POOL-AFRR-1", ISP + q, GATE + q, "down", 1, 2, D("-10.00"), "pending"),
        Bid("POOL-MFRR-1", ISP, ISP - timedelta(minutes=30), "up", 1, 0, D("300.00"), "rejected"),
    ]
    tables = ladders_by_pool(bids)
    assert list(tables) == ["POOL-AFRR-1", "POOL-MFRR-1"]
    afrr = tables["POOL-AFRR-1"].splitlines()
    assert afrr[0] == (
        "| gate closes | ISP (Amsterdam) | direction | ladder: MW @ EUR/MWh | MW in all |"
        " TSO answer |"
    )
    assert afrr[2:] == [
        "| 10:35 | 11:00 | up | 1 MW @ 95.50 · 3 MW @ 180.00 | 4 | accepted |",
        "| 10:50 | 11:15 | down | 2 MW @ -10.00 | 2 | pending |",
    ]
    assert tables["POOL-MFRR-1"].splitlines()[2] == (
        "| 10:30 | 11:00 | up | cancelled @ 300.00 | 0 | rejected |"
    )


def test_no_bids_no_tables():
    assert ladders_by_pool([]) == {}
