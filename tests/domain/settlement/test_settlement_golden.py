"""Hand-computed cases on the demo day 2025-02-27 with TenneT's real prices.

The first case is the worked example of docs/finance.md; the numbers there and here must agree.
"""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.dispatch import Direction
from domain.settlement import (
    ActivationParticipation,
    ActivationRequest,
    ContractTerms,
    DeviceContribution,
    Membership,
    MissingPriceError,
    PowerSample,
    allocate_isp,
    customer_pseudonym,
    deliveries,
    fee_bookings,
    pool_at,
    revise_prosumer_month,
    settle_activated_isp,
    settle_imbalance_isp,
)

D = Decimal
DEMO_DAY = date(2025, 2, 27)
KEY = b"test-pseudonym-key-32-bytes-long"
CUSTOMER_OF = {"DEV-1": "C1", "DEV-4": "C1", "DEV-2": "C2", "DEV-M": "C2", "DEV-3": "C3"}
TERMS = {
    "C1": ContractTerms(D("72"), D("0.06")),
    "C2": ContractTerms(D("74.5"), D("0.20")),
    "C3": ContractTerms(D("69"), D("0.48")),
}
ISP37 = datetime(2025, 2, 27, 8, 0, tzinfo=UTC)  # 09:00 Amsterdam: dual priced
ISP38 = datetime(2025, 2, 27, 8, 15, tzinfo=UTC)  # 09:15: no upward dispatch price
ISP48 = datetime(2025, 2, 27, 10, 45, tzinfo=UTC)  # 11:45
ISP49 = datetime(2025, 2, 27, 11, 0, tzinfo=UTC)  # 12:00
MINUTE = timedelta(minutes=1)


def pool_samples(start, minutes, measured_mw, baseline_mw):
    return [
        PowerSample(start + i * MINUTE, MINUTE, D(measured_mw), D(baseline_mw))
        for i in range(minutes)
    ]


def contribution(device_id, measured_kwh, baseline_kwh, direction, fees=0):
    customer = CUSTOMER_OF[device_id]
    return DeviceContribution(
        device_id=device_id,
        customer_pseudonym=customer_pseudonym(customer, KEY),
        contribution_kwh=direction.along(D(measured_kwh) - D(baseline_kwh)),
        terms=TERMS[customer],
        fees=fees,
    )


@pytest.fixture(scope="module")
def prices(tennet_prices):
    return {p.isp_start: p for p in tennet_prices(DEMO_DAY)}


def worked_example(prices):
    """mFRR up, 2 MW over ISP 37; the pool delivers 1.4 MW (70 %)."""
    activation = ActivationRequest(
        "ACT-1", "POOL-MFRR", Direction.UP, D("2"), ISP37, ISP37 + 15 * MINUTE
    )
    (delivery,) = deliveries(activation, pool_samples(ISP37, 15, "3.6", "5"))
    price = prices[ISP37]
    row = settle_activated_isp(
        "POOL-MFRR",
        ISP37,
        "mfrr",
        [delivery],
        price_dispatch_up_eur_mwh=price.price_dispatch_up_eur_mwh,
        price_dispatch_down_eur_mwh=price.price_dispatch_down_eur_mwh,
        price_source=price.source,
    )
    fees = fee_bookings(
        [
            ActivationParticipation(
                "ACT-1", ISP37, {"DEV-1": D("200"), "DEV-2": D("160"), "DEV-3": D("-10")}
            )
        ]
    )
    devices = [
        contribution("DEV-1", "50", "250", Direction.UP, fees[("DEV-1", ISP37)]),
        contribution("DEV-2", "40", "200", Direction.UP, fees[("DEV-2", ISP37)]),
        contribution("DEV-3", "810", "800", Direction.UP, fees[("DEV-3", ISP37)]),
    ]
    return delivery, allocate_isp(row, devices)


def test_worked_example_partial_delivery_in_a_dual_priced_isp(prices):
    delivery, allocation = worked_example(prices)
    assert prices[ISP37].is_dual_priced
    assert (delivery.requested_kwh, delivery.delivered_kwh) == (D("500"), D("350"))
    assert (delivery.delivery_ratio, delivery.shortfall_kwh) == (D("0.7"), D("150"))
    row = allocation.settlement
    assert row.price_eur_mwh == D("120.87")  # Price Dispatch Up of ISP 37
    assert row.gross_eur == D("42.30")  # 350 kWh x 120.87 EUR/MWh = 42.3045
    assert row.penalty_eur == D("18.13")  # (150 - 50) kWh x 120.87 x 1.5 = 18.1305
    assert row.revenue_eur == D("24.17")
    payouts = {p.device_id: p.payout_eur for p in allocation.payouts}
    # exact: DEV-1 24.17 x 200/360 x 72 % + 0.06 = 9.728
    #        DEV-2 24.17 x 160/360 x 74.5 % + 0.20 = 8.20295..
    #        DEV-3 delivered the wrong way (-10 kWh): 0; margin 6.23904..
    # floors 9.72 + 8.20 + 0 + 6.23 = 24.15; the two cents go to the margin (.904) and DEV-1 (.8)
    assert payouts == {"DEV-1": D("9.73"), "DEV-2": D("8.20"), "DEV-3": D("0.00")}
    assert row.aggregator_margin_eur == D("6.24")
    assert sum(payouts.values()) + row.aggregator_margin_eur == row.revenue_eur


def test_dual_priced_imbalance_isp_long_and_short(prices):
    isp3 = prices[datetime(2025, 2, 26, 23, 30, tzinfo=UTC)]  # 00:30 Amsterdam
    assert isp3.is_dual_priced

    def settle(measured):
        return settle_imbalance_isp(
            "POOL-IMB",
            isp3.isp_start,
            measured_kwh=D(measured),
            baseline_kwh=D("400"),
            price_shortage_eur_mwh=isp3.price_shortage_eur_mwh,
            price_surplus_eur_mwh=isp3.price_surplus_eur_mwh,
            price_source=isp3.source,
        )

    long, short = settle("300"), settle("500")
    assert long.revenue_eur == D("7.23")  # 100 kWh x surplus 72.31
    assert short.revenue_eur == D("-10.38")  # -100 kWh x shortage 103.85 = -10.385
    # the short pool's loss stays with the aggregator; passive pools earn no fees
    device = contribution("DEV-4", "480", "400", Direction.DOWN)
    allocation = allocate_isp(short, [device])
    assert allocation.payouts[0].payout_eur == D("0.00")
    assert allocation.settlement.aggregator_margin_eur == D("-10.38")


def test_missing_upward_price_in_an_isp_with_only_downward_regulation(prices):
    activation = ActivationRequest(
        "ACT-9", "POOL-MFRR", Direction.UP, D("1"), ISP38, ISP38 + 15 * MINUTE
    )
    (delivery,) = deliveries(activation, pool_samples(ISP38, 15, "4", "5"))
    price = prices[ISP38]
    with pytest.raises(MissingPriceError):
        settle_activated_isp(
            "POOL-MFRR",
            ISP38,
            "mfrr",
            [delivery],
            price_dispatch_up_eur_mwh=price.price_dispatch_up_eur_mwh,
            price_dispatch_down_eur_mwh=price.price_dispatch_down_eur_mwh,
            price_source=price.source,
        )


def test_device_that_moved_pools_at_noon(prices):
    noon = ISP49  # 12:00 Amsterdam
    memberships = [
        Membership("DEV-4", "POOL-IMB", datetime(2025, 1, 1, tzinfo=UTC)),
        Membership("DEV-M", "POOL-IMB", datetime(2025, 1, 1, tzinfo=UTC), noon),
        Membership("DEV-M", "POOL-MFRR", noon),
        Membership("DEV-1", "POOL-MFRR", datetime(2025, 1, 1, tzinfo=UTC)),
    ]
    # device contributions per ISP, as measured, before knowing the pools
    measured = {  # (device, isp) -> (measured kWh, baseline kWh)
        ("DEV-4", ISP48): ("60", "100"),
        ("DEV-M", ISP48): ("90", "150"),
        ("DEV-1", ISP49): ("0", "150"),
        ("DEV-M", ISP49): ("50", "150"),
    }
    by_pool = defaultdict(list)
    for (device_id, isp), _ in measured.items():
        by_pool[(pool_at(memberships, device_id, isp), isp)].append(device_id)
    assert dict(by_pool) == {
        ("POOL-IMB", ISP48): ["DEV-4", "DEV-M"],
        ("POOL-MFRR", ISP49): ["DEV-1", "DEV-M"],
    }

    # 11:45 passive pool, single priced (64.71): 100 kWh long -> 6.471 -> 6.47
    p48 = prices[ISP48]
    imb = settle_imbalance_isp(
        "POOL-IMB",
        ISP48,
        measured_kwh=D("300"),
        baseline_kwh=D("400"),
        price_shortage_eur_mwh=p48.price_shortage_eur_mwh,
        price_surplus_eur_mwh=p48.price_surplus_eur_mwh,
        price_source=p48.source,
    )
    assert imb.revenue_eur == D("6.47")
    imb_alloc = allocate_isp(
        imb, [contribution(d, *measured[(d, ISP48)], Direction.UP) for d in ("DEV-4", "DEV-M")]
    )
    # DEV-4 6.47 x 40 % x 72 % = 1.86336; DEV-M 6.47 x 60 % x 74.5 % = 2.89209;
    # margin 1.71455: floors add to 6.46, the cent goes to the margin (.455)
    assert {p.device_id: p.payout_eur for p in imb_alloc.payouts} == {
        "DEV-4": D("1.86"),
        "DEV-M": D("2.89"),
    }
    assert imb_alloc.settlement.aggregator_margin_eur == D("1.72")

    # 12:00 mFRR pool, 1 MW up fully delivered at 115.87: 250 kWh -> 28.9675 -> 28.97
    activation = ActivationRequest(
        "ACT-2", "POOL-MFRR", Direction.UP, D("1"), ISP49, ISP49 + 15 * MINUTE
    )
    (delivery,) = deliveries(activation, pool_samples(ISP49, 15, "2", "3"))
    p49 = prices[ISP49]
    mfrr = settle_activated_isp(
        "POOL-MFRR",
        ISP49,
        "mfrr",
        [delivery],
        price_dispatch_up_eur_mwh=p49.price_dispatch_up_eur_mwh,
        price_dispatch_down_eur_mwh=p49.price_dispatch_down_eur_mwh,
        price_source=p49.source,
    )
    assert (mfrr.revenue_eur, mfrr.penalty_eur) == (D("28.97"), D("0.00"))
    mfrr_alloc = allocate_isp(
        mfrr,
        [contribution(d, *measured[(d, ISP49)], Direction.UP, fees=1) for d in ("DEV-1", "DEV-M")],
    )
    # DEV-1 28.97 x 60 % x 72 % + 0.06 = 12.57504; DEV-M 28.97 x 40 % x 74.5 % + 0.20 = 8.83306
    # margin 7.5619: floors add to 28.96, the cent goes to DEV-1 (.504)
    assert {p.device_id: p.payout_eur for p in mfrr_alloc.payouts} == {
        "DEV-1": D("12.58"),
        "DEV-M": D("8.83"),
    }
    assert mfrr_alloc.settlement.aggregator_margin_eur == D("7.56")

    # DEV-M's rows sit in the pool it was in at each ISP; its customer's statement has both
    rows_m = [p for a in (imb_alloc, mfrr_alloc) for p in a.payouts if p.device_id == "DEV-M"]
    assert [(r.pool_id, r.isp_start) for r in rows_m] == [("POOL-IMB", ISP48), ("POOL-MFRR", ISP49)]
    _, example = worked_example(prices)
    allocations = [example, imb_alloc, mfrr_alloc]
    c2 = customer_pseudonym("C2", KEY)
    rows_c2 = [p for a in allocations for p in a.payouts if p.customer_pseudonym == c2]
    created = datetime(2025, 3, 2, tzinfo=UTC)
    revision = revise_prosumer_month(c2, date(2025, 2, 1), [], rows_c2, created)
    assert revision is not None
    assert revision.statement.total_eur == D("19.92")  # 8.20 + 2.89 + 8.83
    # the month reconciles: statements + margins = TSO revenue
    statements = {}
    for customer in ("C1", "C2", "C3"):
        pseudonym = customer_pseudonym(customer, KEY)
        rows = [p for a in allocations for p in a.payouts if p.customer_pseudonym == pseudonym]
        statements[customer] = revise_prosumer_month(
            pseudonym, date(2025, 2, 1), [], rows, created
        ).statement.total_eur
    assert statements == {"C1": D("24.17"), "C2": D("19.92"), "C3": D("0.00")}
    margins = sum(a.settlement.aggregator_margin_eur for a in allocations)
    revenue = sum(a.settlement.revenue_eur for a in allocations)
    assert (margins, revenue) == (D("15.52"), D("59.61"))
    assert sum(statements.values()) + margins == revenue
