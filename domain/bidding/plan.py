"""Planned bids: a pool's price ladder for one ISP and direction, as identifiable bids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.bidding.gate import gate_closure
from domain.bidding.identifiers import MRID_MAX_LENGTH, bid_mrid
from domain.bidding.ladder import FlexTier, price_ladder
from domain.bidding.markets import DIRECTIONS, check_direction, market_rules
from domain.bidding.pricing import PricingPolicy, price_problems
from domain.bidding.quantities import quantity_problems
from domain.isp import floor_to_isp


@dataclass(frozen=True)
class PlannedBid:
    """One bid a pool wants to have at the TSO: ladder step ``step`` (1 = cheapest)."""

    pool_id: str
    market: str
    isp_start: datetime
    direction: str
    step: int
    quantity_mw: int
    price_eur_mwh: Decimal

    @property
    def gate(self) -> datetime:
        """When the gate for this bid's ISP closes (UTC)."""
        return gate_closure(self.isp_start, self.market)

    @property
    def bid_mrid(self) -> str:
        """The bid's mRID, the same for every revision of this ladder step."""
        return bid_mrid(
            self.pool_id, self.market, self.gate, self.isp_start, self.direction, self.step
        )


def plan_bids(
    pool_id: str,
    market: str,
    isp_start: datetime,
    direction: str,
    tiers: Iterable[FlexTier],
    policy: PricingPolicy | None = None,
) -> list[PlannedBid]:
    """The ladder of one pool, ISP and direction as bids numbered 1, 2, ... by price."""
    check_direction(direction)
    steps = price_ladder(tiers, market_rules(market), policy)
    return [
        PlannedBid(pool_id, market, isp_start, direction, n, s.quantity_mw, s.price_eur_mwh)
        for n, s in enumerate(steps, start=1)
    ]


def plan_pool_bids(
    ladder_rows: Iterable[Mapping[str, Any]],
    pool_markets: Mapping[str, str],
    policy: PricingPolicy | None = None,
) -> list[PlannedBid]:
    """Bids for every pool, ISP and direction in ``ladder_rows``.

    ``ladder_rows`` are rows of ``domain.flexibility.pool.pool_flex_ladders`` (pool_id,
    isp_start, direction, strike_price_eur_mwh, cumulative_mw); ``pool_markets`` maps each
    pool to its market.
    """
    grouped: dict[tuple[str, datetime, str], list[FlexTier]] = {}
    for row in ladder_rows:
        key = (row["pool_id"], row["isp_start"], row["direction"])
        tier = FlexTier(row["strike_price_eur_mwh"], row["cumulative_mw"])
        grouped.setdefault(key, []).append(tier)
    bids: list[PlannedBid] = []
    for (pool_id, isp_start, direction), tiers in sorted(
        grouped.items(), key=lambda item: (item[0][0], item[0][1], DIRECTIONS.index(item[0][2]))
    ):
        bids.extend(plan_bids(pool_id, pool_markets[pool_id], isp_start, direction, tiers, policy))
    return bids


def bid_problems(bid: Any) -> list[str]:
    """Why a bid (planned or outgoing) breaks a rule; empty when it may be sent.

    Checks the direction, the ISP boundary, the whole-MW quantity within the market's limits (0
    only for a cancellation: a revision > 1), the price limits and step, and the mRID.
    """
    problems: list[str] = []
    revision = getattr(bid, "revision", 1)
    rules = market_rules(bid.market)
    if bid.direction not in DIRECTIONS:
        problems.append(f"direction {bid.direction!r} is not up or down")
    if floor_to_isp(bid.isp_start) != bid.isp_start:
        problems.append(f"{bid.isp_start.isoformat()} is not the start of an ISP")
    cancellation = bid.quantity_mw == 0 and revision > 1
    problems += quantity_problems(bid.quantity_mw, rules, cancellation=cancellation)
    problems += price_problems(bid.price_eur_mwh, rules)
    if not problems and len(bid.bid_mrid) > MRID_MAX_LENGTH:
        problems.append(f"mRID {bid.bid_mrid} longer than {MRID_MAX_LENGTH}")
    return problems
