"""Bid quantities: whole MW, rounded down, within the market's per-bid limits.

Rounding is always down (floor), so a pool never offers more than it has; a pool under the
minimum (1 MW) offers nothing. A quantity above the per-bid maximum (aFRR: 999 MW) is split
into several bids at the same price rather than cut, so no flexibility is lost.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from domain.bidding.markets import MarketRules


def floor_kw(mw: Decimal | float) -> int:
    """``mw`` in whole kW, rounded down (negative and NaN count as 0).

    Float noise below 1 mW is rounded away first (``sum([0.1] * 10)`` MW is 1000 kW), as
    ``domain.flexibility`` does, so the same flex gives the same kW on both sides.
    """
    if isinstance(mw, float):
        if math.isnan(mw) or mw <= 0:
            return 0
        mw = Decimal(str(mw))
    if mw <= 0:
        return 0
    kw = (mw * 1000).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    return int(kw.to_integral_value(rounding=ROUND_FLOOR))


def whole_mw(flex_mw: Decimal | float) -> int:
    """The whole MW within ``flex_mw``, rounded down (never negative)."""
    return floor_kw(flex_mw) // 1000


def offer_quantity(flex_mw: Decimal | float, rules: MarketRules) -> int:
    """The MW a pool with ``flex_mw`` may offer: whole MW, 0 below the market's minimum."""
    quantity = whole_mw(flex_mw)
    return quantity if quantity >= rules.min_quantity_mw else 0


def split_quantity(quantity_mw: int, rules: MarketRules) -> list[int]:
    """Split a whole-MW quantity into bids of at most the per-bid maximum, largest first."""
    if quantity_mw < 0:
        raise ValueError(f"quantity must be >= 0, got {quantity_mw}")
    if quantity_mw < rules.min_quantity_mw:
        return []
    full, rest = divmod(quantity_mw, rules.max_quantity_mw)
    parts = [rules.max_quantity_mw] * full
    if rest:
        if rest < rules.min_quantity_mw:  # borrow from the last full bid to reach the minimum
            parts[-1] -= rules.min_quantity_mw - rest
            rest = rules.min_quantity_mw
        parts.append(rest)
    return parts


def quantity_problems(
    quantity_mw: int, rules: MarketRules, *, cancellation: bool = False
) -> list[str]:
    """Why ``quantity_mw`` cannot be sent in this market (empty when it can).

    A cancellation carries quantity 0, which is allowed only as a cancellation.
    """
    if not isinstance(quantity_mw, int) or isinstance(quantity_mw, bool):
        return [f"quantity {quantity_mw!r} is not a whole number of MW"]
    if cancellation:
        return [] if quantity_mw == 0 else [f"a cancellation carries 0 MW, not {quantity_mw}"]
    if not rules.min_quantity_mw <= quantity_mw <= rules.max_quantity_mw:
        return [
            f"quantity {quantity_mw} MW outside [{rules.min_quantity_mw}, {rules.max_quantity_mw}]"
        ]
    return []
