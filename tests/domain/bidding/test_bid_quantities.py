from decimal import Decimal

import pytest

from domain.bidding import market_rules, offer_quantity, quantity_problems, split_quantity, whole_mw

AFRR = market_rules("afrr")


@pytest.mark.parametrize(
    ("flex_mw", "expected"),
    [
        (0.0, 0),
        (0.999, 0),
        (1.0, 1),
        (1.999999, 1),
        (2.9999, 2),  # rounding down: never offer what is not there
        (sum([0.1] * 10), 1),  # 0.9999999999999999: float noise below 1 mW is not a lost MW
        (Decimal("3.000"), 3),
        (-2.0, 0),
        (float("nan"), 0),
    ],
)
def test_whole_mw_rounds_down(flex_mw, expected):
    assert whole_mw(flex_mw) == expected


def test_a_pool_under_one_mw_offers_nothing():
    assert offer_quantity(0.98, AFRR) == 0
    assert offer_quantity(1.02, AFRR) == 1
    assert offer_quantity(998.7, AFRR) == 998


def test_quantities_above_the_per_bid_maximum_are_split_not_cut():
    assert split_quantity(2500, AFRR) == [999, 999, 502]
    assert split_quantity(999, AFRR) == [999]
    assert split_quantity(1, AFRR) == [1]
    assert split_quantity(0, AFRR) == []
    with pytest.raises(ValueError):
        split_quantity(-1, AFRR)


def test_a_split_never_leaves_a_remainder_under_the_minimum():
    rules = AFRR.__class__(
        "test", AFRR.gate_closure_lead, 5, 10, AFRR.min_price_eur_mwh, AFRR.max_price_eur_mwh
    )
    parts = split_quantity(22, rules)
    assert sum(parts) == 22 and all(5 <= p <= 10 for p in parts)
    assert split_quantity(4, rules) == []


def test_quantity_problems():
    assert quantity_problems(1, AFRR) == []
    assert quantity_problems(999, AFRR) == []
    assert quantity_problems(0, AFRR) == ["quantity 0 MW outside [1, 999]"]
    assert quantity_problems(1000, AFRR) == ["quantity 1000 MW outside [1, 999]"]
    assert quantity_problems(1.5, AFRR) == ["quantity 1.5 is not a whole number of MW"]  # type: ignore[arg-type]
    assert quantity_problems(0, AFRR, cancellation=True) == []
    assert quantity_problems(3, AFRR, cancellation=True) == ["a cancellation carries 0 MW, not 3"]
