from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.bidding import (
    FlexTier,
    LadderStep,
    PricingPolicy,
    effective_strike,
    market_rules,
    price_ladder,
    tiers_from_devices,
    whole_mw,
)

AFRR = market_rules("afrr")
D = Decimal


def ladder(devices, policy=None, rules=AFRR):
    return [
        (s.quantity_mw, s.price_eur_mwh)
        for s in price_ladder(tiers_from_devices(devices, policy), rules, policy)
    ]


def test_each_whole_mw_is_priced_at_the_highest_strike_inside_it():
    # sorted: none 0.5 (0), 0.6 @ 10, 0.6 @ 20, 1.5 @ 50 -> cumulative 0.5, 1.1, 1.7, 3.2
    # MW 1 = (0, 1]: devices at 0 and 10 -> 10 + 5; MW 2 and 3 reach into the 50 device -> 55.
    devices = [(D(10), 0.6), (D(20), 0.6), (None, 0.5), (D(50), 1.5)]
    assert ladder(devices) == [(1, D("15.00")), (2, D("55.00"))]


def test_the_fraction_above_the_last_whole_mw_is_not_offered():
    assert ladder([(D(30), 2.9)]) == [(2, D("35.00"))]


def test_a_pool_under_one_mw_bids_nothing():
    assert ladder([(D(1), 0.4), (D(2), 0.5)]) == []
    assert ladder([]) == []


def test_steps_with_the_same_rounded_price_merge():
    no_markup = PricingPolicy(markup_eur_mwh=D(0))
    assert ladder([(D("10.001"), 1), (D("10.004"), 1)], no_markup) == [(2, D("10.01"))]


def test_strikes_above_what_the_market_allows_are_never_offered():
    # 14,996 + 5 would be 15,001 EUR/MWh: that MW and everything dearer is dropped.
    devices = [(D(100), 1.0), (D(14996), 3.0), (D(200), 1.0)]
    assert ladder(devices) == [(1, D("105.00")), (1, D("205.00"))]


def test_strikes_below_the_floor_are_raised_to_the_floor():
    assert ladder([(D(-20000), 2.0)]) == [(2, D("-15000.00"))]


def test_a_step_above_999_mw_is_split_at_the_same_price():
    assert ladder([(D(40), 2500.4)]) == [(999, D("45.00")), (999, D("45.00")), (502, D("45.00"))]


def test_the_highest_strike_is_reported_with_each_step():
    steps = price_ladder(tiers_from_devices([(None, 1.0), (D(7), 1.0)]), AFRR)
    assert steps == [LadderStep(1, D("5.00"), D("0")), LadderStep(1, D("12.00"), D("7"))]


def test_margined_tiers_are_taken_as_cumulative_levels():
    tiers = [FlexTier(D(10), 1.4), FlexTier(D(40), 1.9), FlexTier(D(80), 3.05)]
    steps = price_ladder(tiers, AFRR)
    assert [(s.quantity_mw, s.price_eur_mwh) for s in steps] == [(1, D("15.00")), (2, D("85.00"))]


def test_a_cumulation_that_decreases_is_refused():
    with pytest.raises(ValueError, match="must not decrease"):
        price_ladder([FlexTier(D(10), 2.0), FlexTier(D(20), 1.0)], AFRR)


# --- properties ------------------------------------------------------------------------------
strikes = st.one_of(
    st.none(),
    st.decimals(min_value=-16000, max_value=16000, places=2, allow_nan=False),
)
devices_strategy = st.lists(
    st.tuples(strikes, st.decimals(min_value=0, max_value=300, places=3, allow_nan=False)),
    max_size=40,
)
markups = st.decimals(min_value=0, max_value=50, places=3, allow_nan=False)
markets = st.sampled_from(["afrr", "mfrr", "imbalance", "congestion"])


@settings(deadline=None)
@given(devices_strategy, markups, markets)
def test_ladder_properties(devices, markup, market):
    rules = market_rules(market)
    policy = PricingPolicy(markup_eur_mwh=markup)
    steps = price_ladder(tiers_from_devices(devices, policy), rules, policy)
    ordered = sorted((effective_strike(s), D(mw)) for s, mw in devices)

    # whole MW within the market's limits, prices on the cent grid and within limits, cheapest first
    assert all(isinstance(s.quantity_mw, int) for s in steps)
    assert all(rules.min_quantity_mw <= s.quantity_mw <= rules.max_quantity_mw for s in steps)
    assert all(s.price_eur_mwh % D("0.01") == 0 for s in steps)
    assert all(rules.min_price_eur_mwh <= s.price_eur_mwh <= rules.max_price_eur_mwh for s in steps)
    assert [s.price_eur_mwh for s in steps] == sorted(s.price_eur_mwh for s in steps)

    # never more than the flex; exactly the whole MW of the devices the market can pay for
    total = sum(s.quantity_mw for s in steps)
    assert total <= whole_mw(sum((mw for _, mw in ordered), D(0)))
    affordable = sum(
        (mw for strike, mw in ordered if strike + markup <= rules.max_price_eur_mwh), D(0)
    )
    assert total == whole_mw(affordable)

    # every device whose MW lies (partly) inside a step is paid at least its strike + markup
    offset = D(0)
    for step in steps:
        low, high = offset, offset + step.quantity_mw
        cumulative = D(0)
        for strike, mw in ordered:
            start, cumulative = cumulative, cumulative + mw
            if mw > 0 and start < high and cumulative > low:
                assert step.price_eur_mwh >= strike
                assert step.price_eur_mwh >= strike + markup
        offset = high
