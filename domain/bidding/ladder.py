"""Price ladders: several bids per pool, ISP and direction where strike prices differ.

Input: the flexibility a pool can safely offer at each strike level, cumulated in strike order
(``FlexTier``: "devices with an effective strike price <= s together give at least this many
MW"). Without a safety margin that is simply the devices sorted by strike price with their flex
summed (``tiers_from_devices``); ``domain.flexibility.pool`` gives the margined version.

The ladder cuts the cumulative MW into whole-MW steps. MW number ``m`` (the interval
(m-1, m] of the cumulated flex) belongs to the first tier whose cumulative flex reaches ``m``:
every device inside that MW has a strike price at most that tier's strike, so pricing the step
at that strike plus the markup (rounded up to 0.01) never sells a device's MW below its
strike. The fraction above the last whole MW is not offered. Consecutive steps with the same
price merge into one bid; a bid above the per-bid maximum is split.

Quantities are computed in whole kW (each tier's cumulative MW rounded down to the kW, then
to whole MW), so float noise can only ever shrink a step, never push a MW into a cheaper one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from domain.bidding.markets import MarketRules
from domain.bidding.pricing import PricingPolicy, effective_strike, step_price, to_decimal
from domain.bidding.quantities import floor_kw, split_quantity


@dataclass(frozen=True)
class FlexTier:
    """MW available from all devices with an effective strike price <= ``strike_price_eur_mwh``."""

    strike_price_eur_mwh: Decimal | float | None
    cumulative_mw: Decimal | float


@dataclass(frozen=True)
class LadderStep:
    """One bid of the ladder: whole MW at one price, ``highest_strike`` being the reason."""

    quantity_mw: int
    price_eur_mwh: Decimal
    highest_strike_eur_mwh: Decimal


def tiers_from_devices(
    devices: Iterable[tuple[Decimal | float | None, Decimal | float]],
    policy: PricingPolicy | None = None,
) -> list[FlexTier]:
    """Cumulative tiers from (strike price, flex MW) per device, without a safety margin."""
    policy = policy or PricingPolicy()
    per_strike: dict[Decimal, Decimal] = {}
    for strike, mw in devices:
        key = effective_strike(strike, policy.no_strike_price_eur_mwh)
        per_strike[key] = per_strike.get(key, Decimal(0)) + max(to_decimal(mw), Decimal(0))
    tiers, total = [], Decimal(0)
    for strike in sorted(per_strike):
        total += per_strike[strike]
        tiers.append(FlexTier(strike, total))
    return tiers


def _sorted_levels(tiers: Iterable[FlexTier], policy: PricingPolicy) -> list[tuple[Decimal, int]]:
    """(effective strike, cumulative kW) sorted by strike; refuses a decreasing cumulation."""
    levels: dict[Decimal, int] = {}
    for tier in tiers:
        strike = effective_strike(tier.strike_price_eur_mwh, policy.no_strike_price_eur_mwh)
        levels[strike] = max(levels.get(strike, 0), floor_kw(tier.cumulative_mw))
    ordered = sorted(levels.items())
    for (low, low_kw), (high, high_kw) in pairwise(ordered):
        if high_kw < low_kw:
            raise ValueError(
                f"cumulative flex decreases from {low_kw} kW at {low} to {high_kw} kW at {high}"
                " EUR/MWh; it must not decrease with the strike price"
            )
    return ordered


def price_ladder(
    tiers: Iterable[FlexTier], rules: MarketRules, policy: PricingPolicy | None = None
) -> list[LadderStep]:
    """The bids (whole MW, price) a pool offers for one ISP and direction, cheapest first."""
    policy = policy or PricingPolicy()
    steps: list[LadderStep] = []
    offered_mw = 0  # whole MW already in a bid
    for strike, cumulative_kw in _sorted_levels(tiers, policy):
        reachable_mw = cumulative_kw // 1000
        pending = reachable_mw - offered_mw
        if pending < rules.min_quantity_mw:
            continue  # too little yet; it joins the next, dearer step
        price = step_price(strike, policy, rules)
        if price is None:
            break  # this and every dearer strike would need a price above the maximum
        if steps and steps[-1].price_eur_mwh == price:
            last = steps.pop()
            pending += last.quantity_mw
            offered_mw -= last.quantity_mw
        steps.append(LadderStep(pending, price, strike))
        offered_mw += pending
    return [
        LadderStep(part, step.price_eur_mwh, step.highest_strike_eur_mwh)
        for step in steps
        for part in split_quantity(step.quantity_mw, rules)
    ]
