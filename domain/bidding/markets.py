"""Market settings for bids: parties, gate closure, quantity and price limits per market.

The values and where they come from are in ``docs/bidding.md``. They are settings, not
physics: change them here (one place) when a market's rules change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

#: EIC of TenneT TSO B.V., the receiver of the bids.
TENNET_EIC = "10X1001A1001A361"
#: EIC of the Dutch bidding zone / control area, the bids' domain.
NL_AREA_EIC = "10YNL----------L"

UP = "up"
DOWN = "down"
DIRECTIONS = (UP, DOWN)
#: ENTSO-E DirectionTypeList codes: A01 up, A02 down.
DIRECTION_CODES = {UP: "A01", DOWN: "A02"}


@dataclass(frozen=True)
class MarketRules:
    """What a bid in one market must respect."""

    market: str
    gate_closure_lead: timedelta  # bids for an ISP close this long before it starts
    min_quantity_mw: int
    max_quantity_mw: int
    min_price_eur_mwh: Decimal
    max_price_eur_mwh: Decimal
    price_step_eur_mwh: Decimal = Decimal("0.01")


_BALANCING_PRICE_LIMIT = Decimal("15000")
_INTRADAY_PRICE_LIMIT = Decimal("9999")

MARKETS: dict[str, MarketRules] = {
    "afrr": MarketRules(
        "afrr", timedelta(minutes=25), 1, 999, -_BALANCING_PRICE_LIMIT, _BALANCING_PRICE_LIMIT
    ),
    "mfrr": MarketRules(
        "mfrr", timedelta(minutes=25), 1, 999, -_BALANCING_PRICE_LIMIT, _BALANCING_PRICE_LIMIT
    ),
    "imbalance": MarketRules(
        "imbalance", timedelta(minutes=5), 1, 999, -_INTRADAY_PRICE_LIMIT, _INTRADAY_PRICE_LIMIT
    ),
    "congestion": MarketRules(
        "congestion", timedelta(minutes=5), 1, 999, -_INTRADAY_PRICE_LIMIT, _INTRADAY_PRICE_LIMIT
    ),
}


def market_rules(market: str) -> MarketRules:
    """The rules of ``market`` (``afrr``, ``mfrr``, ``imbalance``, ``congestion``)."""
    try:
        return MARKETS[market]
    except KeyError:
        raise ValueError(f"unknown market {market!r}; known: {sorted(MARKETS)}") from None


def check_direction(direction: str) -> str:
    """Return ``direction`` if it is ``up`` or ``down``; raise otherwise."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
    return direction
