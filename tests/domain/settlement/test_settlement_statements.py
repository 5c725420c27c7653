from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.settlement.allocation import ProsumerSettlementRow
from domain.settlement.statements import (
    revise_prosumer_month,
    revise_tso_month,
    settlement_month,
)
from domain.settlement.tso import TsoSettlementRow

D = Decimal
FEB = date(2025, 2, 1)
ISP = datetime(2025, 2, 27, 8, 0, tzinfo=UTC)
CREATED = datetime(2025, 3, 2, 6, 0, tzinfo=UTC)


def prosumer(isp_offset_min: int, payout: str, kwh: str = "1", device: str = "DEV-1"):
    return ProsumerSettlementRow(
        device_id=device,
        customer_pseudonym="CP-x",
        pool_id="POOL",
        isp_start=ISP + timedelta(minutes=isp_offset_min),
        contribution_kwh=D(kwh),
        payout_eur=D(payout),
    )


def test_month_is_the_amsterdam_calendar_month():
    assert settlement_month(datetime(2025, 2, 28, 22, 45, tzinfo=UTC)) == date(2025, 2, 1)
    assert settlement_month(datetime(2025, 2, 28, 23, 0, tzinfo=UTC)) == date(2025, 3, 1)
    assert settlement_month(datetime(2025, 10, 31, 22, 59, tzinfo=UTC)) == date(2025, 10, 1)
    assert settlement_month(datetime(2025, 10, 31, 23, 0, tzinfo=UTC)) == date(2025, 11, 1)


def test_first_version_then_a_late_correction_carries_the_difference():
    first = [prosumer(0, "1.20"), prosumer(15, "0.80"), prosumer(30, "0.00", "-1")]
    v1 = revise_prosumer_month("CP-x", FEB, [], first, CREATED)
    assert v1 is not None
    assert v1.statement.statement_version == 1
    assert v1.statement.total_eur == v1.statement.cumulative_total_eur == D("2.00")
    assert len(v1.rows) == 3 and {r.statement_version for r in v1.rows} == {1}

    # late measurements: ISP +15 pays 0.95 instead of 0.80, ISP +30 disappears, +45 is new
    recomputed = [prosumer(0, "1.20"), prosumer(15, "0.95", "1.2"), prosumer(45, "0.10")]
    v2 = revise_prosumer_month("CP-x", FEB, v1.rows, recomputed, CREATED + timedelta(days=3))
    assert v2 is not None
    assert v2.statement.statement_version == 2
    assert v2.statement.total_eur == D("0.25")
    assert v2.statement.cumulative_total_eur == D("2.25")
    changes = {(r.isp_start - ISP, r.payout_eur, r.contribution_kwh) for r in v2.rows}
    assert changes == {
        (timedelta(minutes=15), D("0.15"), D("0.2")),
        (timedelta(minutes=30), D("0.00"), D("1")),  # the -1 kWh row is taken back
        (timedelta(minutes=45), D("0.10"), D("1")),
    }
    assert {r.statement_version for r in v2.rows} == {2}

    # the ledger now sums to the recomputed month, and a rerun adds nothing
    ledger = [*v1.rows, *v2.rows]
    totals: dict = {}
    for row in ledger:
        totals[row.isp_start] = totals.get(row.isp_start, 0) + row.payout_eur
    assert {k: v for k, v in totals.items() if v} == {r.isp_start: r.payout_eur for r in recomputed}
    assert revise_prosumer_month("CP-x", FEB, ledger, recomputed, CREATED) is None


def test_nothing_to_state_gives_no_statement():
    assert revise_prosumer_month("CP-x", FEB, [], [], CREATED) is None


def test_rows_of_another_customer_or_month_are_refused():
    march = replace(prosumer(0, "1.00"), isp_start=datetime(2025, 3, 3, tzinfo=UTC))
    with pytest.raises(ValueError, match="not in the statement"):
        revise_prosumer_month("CP-x", FEB, [], [march], CREATED)
    other = replace(prosumer(0, "1.00"), customer_pseudonym="CP-y")
    with pytest.raises(ValueError, match="not in the statement"):
        revise_prosumer_month("CP-x", FEB, [], [other], CREATED)
    with pytest.raises(ValueError, match="repeat the key"):
        revise_prosumer_month("CP-x", FEB, [], [prosumer(0, "1"), prosumer(0, "2")], CREATED)
    with pytest.raises(ValueError, match="statement_version"):
        revise_prosumer_month("CP-x", FEB, [prosumer(0, "1")], [], CREATED)


def tso(revenue: str, margin: str, price: str = "120.87"):
    return TsoSettlementRow(
        pool_id="POOL",
        isp_start=ISP,
        market="mfrr",
        requested_kwh=D("500"),
        delivered_kwh=D("350"),
        settled_kwh=D("350"),
        price_eur_mwh=D(price),
        price_kind="dispatch_up",
        price_source="tennet_settlement_prices",
        gross_eur=D(revenue),
        penalty_eur=D("0.00"),
        revenue_eur=D(revenue),
        aggregator_margin_eur=D(margin),
    )


def test_tso_rows_versioned_by_pool_and_month_a_revised_price():
    (v1,) = revise_tso_month("POOL", FEB, [], [tso("42.30", "10.00")])
    assert v1.statement_version == 1
    # the price is revised from 120.87 to 121.00: 350 kWh x 121.00 = 42.35
    (v2,) = revise_tso_month("POOL", FEB, [v1], [tso("42.35", "10.01", price="121.00")])
    assert v2.statement_version == 2
    assert (v2.gross_eur, v2.revenue_eur, v2.aggregator_margin_eur) == (
        D("0.05"),
        D("0.05"),
        D("0.01"),
    )
    assert v2.delivered_kwh == 0 and v2.price_eur_mwh == D("121.00")
    # a price revision that changes no amount is still recorded
    (v3,) = revise_tso_month("POOL", FEB, [v1, v2], [tso("42.35", "10.01", price="121.001")])
    assert v3.statement_version == 3 and v3.gross_eur == 0
    assert revise_tso_month("POOL", FEB, [v1, v2, v3], [tso("42.35", "10.01", "121.001")]) == ()
    with pytest.raises(ValueError, match="aggregator_margin_eur"):
        revise_tso_month("POOL", FEB, [], [replace(tso("1", "1"), aggregator_margin_eur=None)])
