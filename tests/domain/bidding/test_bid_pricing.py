from decimal import Decimal

import pytest

from domain.bidding import (
    DEFAULT_MARKUP_EUR_MWH,
    NO_STRIKE_PRICE_EUR_MWH,
    PricingPolicy,
    effective_strike,
    market_rules,
    price_problems,
    step_price,
)

AFRR = market_rules("afrr")
NO_MARKUP = PricingPolicy(markup_eur_mwh=Decimal("0"))


def test_the_price_is_the_strike_plus_the_markup():
    assert Decimal("5.00") == DEFAULT_MARKUP_EUR_MWH
    assert step_price(Decimal("50"), PricingPolicy(), AFRR) == Decimal("55.00")


def test_rounding_to_a_cent_goes_up_never_below_the_strike():
    assert step_price(Decimal("10.001"), NO_MARKUP, AFRR) == Decimal("10.01")
    assert step_price(Decimal("-10.009"), NO_MARKUP, AFRR) == Decimal("-10.00")
    assert step_price(Decimal("10.01"), NO_MARKUP, AFRR) == Decimal("10.01")
    assert step_price(0.1 + 0.2, NO_MARKUP, AFRR) == Decimal("0.31")  # 0.30000000000000004


def test_prices_outside_the_market_limits():
    assert step_price(Decimal("15000"), NO_MARKUP, AFRR) == Decimal("15000.00")
    # a strike the market cannot pay: those MW are not offered at all
    assert step_price(Decimal("14999"), PricingPolicy(), AFRR) is None
    # below the floor the price is raised to the floor, still above the strike
    assert step_price(Decimal("-20000"), PricingPolicy(), AFRR) == Decimal("-15000.00")
    imbalance = market_rules("imbalance")
    assert step_price(Decimal("9999.5"), NO_MARKUP, imbalance) is None


def test_no_strike_means_the_no_strike_price():
    assert Decimal("0") == NO_STRIKE_PRICE_EUR_MWH
    assert effective_strike(None) == Decimal("0")
    assert effective_strike(Decimal("-24")) == Decimal("-24")
    assert effective_strike(None, Decimal("12.5")) == Decimal("12.5")


def test_a_negative_markup_is_refused():
    with pytest.raises(ValueError, match="markup"):
        PricingPolicy(markup_eur_mwh=Decimal("-1"))


def test_price_problems():
    assert price_problems(Decimal("15000.00"), AFRR) == []
    assert price_problems(Decimal("-15000"), AFRR) == []
    assert price_problems(Decimal("15000.01"), AFRR) == ["price 15000.01 outside [-15000, 15000]"]
    assert price_problems(Decimal("12.345"), AFRR) == ["price 12.345 is not a multiple of 0.01"]
