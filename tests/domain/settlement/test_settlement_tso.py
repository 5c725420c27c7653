from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.dispatch import Direction
from domain.settlement.delivery import delivery_isp
from domain.settlement.tso import (
    DEFAULT_PENALTY_RULE,
    DISPATCH_DOWN,
    DISPATCH_UP,
    MIXED,
    SHORTAGE,
    SURPLUS,
    MissingPriceError,
    PenaltyRule,
    settle_activated_isp,
    settle_imbalance_isp,
)

D = Decimal
ISP = datetime(2025, 2, 27, 8, 0, tzinfo=UTC)


def delivery(direction, requested, delivered, activation_id="A1"):
    baseline = D("1000")
    measured = baseline + direction.offtake_change(D(delivered))
    return delivery_isp(
        activation_id,
        "POOL",
        ISP,
        direction,
        requested_kwh=D(requested),
        measured_kwh=measured,
        baseline_kwh=baseline,
    )


def settle(*deliveries, up="120.87", down="76.01", rule=DEFAULT_PENALTY_RULE):
    return settle_activated_isp(
        "POOL",
        ISP,
        "mfrr",
        list(deliveries),
        price_dispatch_up_eur_mwh=None if up is None else D(up),
        price_dispatch_down_eur_mwh=None if down is None else D(down),
        price_source="tennet_settlement_prices",
        penalty_rule=rule,
    )


def test_partial_upward_delivery_gross_penalty_revenue():
    row = settle(delivery(Direction.UP, "500", "350"))
    # 350 kWh x 120.87 EUR/MWh = 42.3045 -> 42.30
    # penalty: shortfall 150 - 10 % x 500 = 100 kWh x 120.87 x 1.5 = 18.1305 -> 18.13
    assert (row.gross_eur, row.penalty_eur, row.revenue_eur) == (
        D("42.30"),
        D("18.13"),
        D("24.17"),
    )
    assert (row.price_eur_mwh, row.price_kind) == (D("120.87"), DISPATCH_UP)
    assert row.settled_kwh == row.delivered_kwh == D("350.000000")


def test_shortfall_within_tolerance_costs_nothing_and_over_delivery_is_not_paid():
    row = settle(delivery(Direction.UP, "500", "460"))
    assert row.penalty_eur == 0 and row.gross_eur == D("55.60")  # 460 x 120.87 = 55.6002
    over = settle(delivery(Direction.UP, "500", "650"))
    assert over.settled_kwh == D("500.000000") and over.delivered_kwh == D("650.000000")
    assert over.gross_eur == D("60.44")  # 500 x 120.87 = 60.435 -> half even 60.44


def test_downward_energy_is_paid_by_the_bsp_at_a_positive_price():
    row = settle(delivery(Direction.DOWN, "500", "500"))
    assert row.gross_eur == D("-38.00")  # 500 kWh x 76.01 = 38.005 -> half even 38.00
    assert row.price_kind == DISPATCH_DOWN and row.penalty_eur == 0
    negative = settle(delivery(Direction.DOWN, "500", "500"), down="-20")
    assert negative.gross_eur == D("10.00")  # at a negative price the TSO pays


def test_wrong_way_delivery_earns_nothing_and_is_penalised_beyond_the_request():
    row = settle(delivery(Direction.UP, "100", "-50"))
    assert row.settled_kwh == 0 and row.gross_eur == 0
    # shortfall 150 - 10 = 140 kWh x 120.87 x 1.5 = 25.3827
    assert row.penalty_eur == D("25.38") and row.revenue_eur == D("-25.38")


def test_penalty_uses_the_price_magnitude_and_the_floor():
    rule = PenaltyRule(tolerance_ratio=D("0"), factor=D("2"), floor_price_eur_mwh=D("50"))
    low = settle(delivery(Direction.UP, "100", "0"), up="-10", rule=rule)
    assert low.penalty_eur == D("10.00")  # 100 kWh x max(|-10|, 50) x 2
    high = settle(delivery(Direction.UP, "100", "0"), up="-80", rule=rule)
    assert high.penalty_eur == D("16.00")


def test_two_activations_in_one_isp_are_summed_and_rounded_once():
    # 1.55 kWh x 100 EUR/MWh = 0.155 each: rounded per activation 3 x 0.16 = 0.48,
    # rounded once 0.465 -> 0.46 (half even)
    parts = [delivery(Direction.UP, "1.55", "1.55", f"A{i}") for i in range(3)]
    row = settle(*parts, up="100")
    assert row.gross_eur == D("0.46") and row.settled_kwh == D("4.650000")
    both = settle(delivery(Direction.UP, "10", "10"), delivery(Direction.DOWN, "10", "10", "A2"))
    assert both.price_kind == MIXED and both.price_eur_mwh is None
    assert both.gross_eur == D("0.45")  # 10 x 120.87 - 10 x 76.01 = 0.4486


def test_a_missing_price_stops_the_settlement():
    with pytest.raises(MissingPriceError, match="no up activation price"):
        settle(delivery(Direction.UP, "500", "500"), up=None)
    # a missing price in the other direction does not matter
    assert settle(delivery(Direction.UP, "500", "500"), down=None).gross_eur == D("60.44")


def test_refusals():
    with pytest.raises(ValueError, match="not settled by activation"):
        settle_activated_isp(
            "POOL",
            ISP,
            "imbalance",
            [],
            price_dispatch_up_eur_mwh=None,
            price_dispatch_down_eur_mwh=None,
            price_source="x",
        )
    other_isp = delivery_isp(
        "A", "OTHER", ISP, Direction.UP, requested_kwh=D(1), measured_kwh=D(0), baseline_kwh=D(1)
    )
    with pytest.raises(ValueError, match="given for POOL"):
        settle(other_isp)


def imbalance(measured, baseline, shortage="103.85", surplus="72.31"):
    return settle_imbalance_isp(
        "POOL-I",
        ISP,
        measured_kwh=D(measured),
        baseline_kwh=D(baseline),
        price_shortage_eur_mwh=D(shortage),
        price_surplus_eur_mwh=D(surplus),
        price_source="tennet_settlement_prices",
    )


def test_dual_pricing_long_earns_surplus_short_pays_shortage():
    long = imbalance("300", "400")  # 100 kWh less offtake: the BRP is long
    assert (long.delivered_kwh, long.price_eur_mwh, long.price_kind) == (
        D("100.000000"),
        D("72.31"),
        SURPLUS,
    )
    assert long.revenue_eur == D("7.23")  # 7.231
    short = imbalance("500", "400")
    assert (short.delivered_kwh, short.price_eur_mwh, short.price_kind) == (
        D("-100.000000"),
        D("103.85"),
        SHORTAGE,
    )
    assert short.revenue_eur == D("-10.38")  # -10.385, half even
    assert short.penalty_eur == 0 and short.market == "imbalance"


def test_negative_surplus_price_makes_a_long_position_pay():
    row = imbalance("300", "400", shortage="80", surplus="-5")  # 2025-03-30 ISP 9
    assert row.revenue_eur == D("-0.50")
