"""The pricing rule: a bid's price honours the strike prices of the devices behind it.

``strike_price_eur_mwh`` (registry) is the lowest price at which a device's owner accepts
activation; ``None`` means no minimum. Prices here are what the pool asks per MWh activated,
in either direction. A step of the ladder is priced at the highest effective strike price
inside it plus the markup, rounded **up** to the market's price step (0.01 EUR/MWh), so
rounding never takes a price below a strike. A price above the market's maximum cannot be
offered (the MW behind it are dropped); one below the minimum is raised to the minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from domain.bidding.markets import MarketRules

#: The effective strike price of a device without one. "No minimum" allows any price; the
#: aggregator still never asks a negative price for such a device: 0 EUR/MWh.
NO_STRIKE_PRICE_EUR_MWH = Decimal("0.00")
#: Added to the highest strike price of a step: the aggregator's margin per MWh, covering the
#: activation fee paid to prosumers and the delivery risk (see docs/bidding.md).
DEFAULT_MARKUP_EUR_MWH = Decimal("5.00")


@dataclass(frozen=True)
class PricingPolicy:
    """The documented parameters of the pricing rule."""

    markup_eur_mwh: Decimal = DEFAULT_MARKUP_EUR_MWH
    no_strike_price_eur_mwh: Decimal = NO_STRIKE_PRICE_EUR_MWH

    def __post_init__(self) -> None:
        """A negative markup would sell below the strike price."""
        if Decimal(self.markup_eur_mwh) < 0:
            raise ValueError("markup_eur_mwh must be >= 0")


def to_decimal(value: Decimal | float | int | str) -> Decimal:
    """A Decimal of ``value``; floats go through their shortest text (0.1 -> 0.1, not 0.1000…)."""
    if isinstance(value, Decimal):
        return value
    result = Decimal(str(value))
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def effective_strike(
    strike_price_eur_mwh: Decimal | float | None,
    no_strike_price_eur_mwh: Decimal = NO_STRIKE_PRICE_EUR_MWH,
) -> Decimal:
    """The strike price used for sorting and pricing: ``None`` becomes the no-strike price."""
    if strike_price_eur_mwh is None:
        return to_decimal(no_strike_price_eur_mwh)
    return to_decimal(strike_price_eur_mwh)


def ceil_to_step(price: Decimal, step: Decimal) -> Decimal:
    """Round ``price`` up to a whole multiple of ``step`` (never down: strike prices hold)."""
    return (price / step).to_integral_value(rounding=ROUND_CEILING) * step


def step_price(
    highest_strike: Decimal, policy: PricingPolicy, rules: MarketRules
) -> Decimal | None:
    """The price of a ladder step whose highest strike price is ``highest_strike``.

    ``None`` when that price exceeds the market's maximum: those MW cannot be offered without
    selling below a strike price.
    """
    price = ceil_to_step(
        to_decimal(highest_strike) + policy.markup_eur_mwh, rules.price_step_eur_mwh
    )
    if price > rules.max_price_eur_mwh:
        return None
    return max(price, rules.min_price_eur_mwh).quantize(rules.price_step_eur_mwh)


def price_problems(price: Decimal, rules: MarketRules) -> list[str]:
    """Why ``price`` cannot be sent in this market (empty when it can)."""
    problems = []
    if not rules.min_price_eur_mwh <= price <= rules.max_price_eur_mwh:
        problems.append(
            f"price {price} outside [{rules.min_price_eur_mwh}, {rules.max_price_eur_mwh}]"
        )
    if price % rules.price_step_eur_mwh != 0:
        problems.append(f"price {price} is not a multiple of {rules.price_step_eur_mwh}")
    return problems
