"""Bid rules: quantities, prices and ladders, gate closure, identifiers and revisions.

Pure functions over plain data; the ENTSO-E XML is built in ``integrations/cim``. See
``docs/bidding.md`` for the rules, their parameters and the reasons.
"""

from __future__ import annotations

from domain.bidding.documents import BidDocumentPlan, plan_documents
from domain.bidding.gate import (
    Gate,
    GateSplit,
    bid_allowed,
    first_open_isp,
    gate_closure,
    gates_of_day,
    split_by_gate,
)
from domain.bidding.identifiers import (
    MRID_MAX_LENGTH,
    bid_mrid,
    document_mrid,
    eic_check_character,
    is_valid_eic,
)
from domain.bidding.intervals import TimeInterval, day_interval, isp_interval, span_interval
from domain.bidding.ladder import FlexTier, LadderStep, price_ladder, tiers_from_devices
from domain.bidding.markets import (
    DIRECTION_CODES,
    DIRECTIONS,
    DOWN,
    MARKETS,
    NL_AREA_EIC,
    TENNET_EIC,
    UP,
    MarketRules,
    market_rules,
)
from domain.bidding.plan import PlannedBid, bid_problems, plan_bids, plan_pool_bids
from domain.bidding.pricing import (
    DEFAULT_MARKUP_EUR_MWH,
    NO_STRIKE_PRICE_EUR_MWH,
    PricingPolicy,
    effective_strike,
    price_problems,
    step_price,
)
from domain.bidding.quantities import offer_quantity, quantity_problems, split_quantity, whole_mw
from domain.bidding.revisions import MAX_REVISION, OutgoingBid, SentBid, as_sent, bids_to_send

__all__ = [
    "DEFAULT_MARKUP_EUR_MWH",
    "DIRECTIONS",
    "DIRECTION_CODES",
    "DOWN",
    "MARKETS",
    "MAX_REVISION",
    "MRID_MAX_LENGTH",
    "NL_AREA_EIC",
    "NO_STRIKE_PRICE_EUR_MWH",
    "TENNET_EIC",
    "UP",
    "BidDocumentPlan",
    "FlexTier",
    "Gate",
    "GateSplit",
    "LadderStep",
    "MarketRules",
    "OutgoingBid",
    "PlannedBid",
    "PricingPolicy",
    "SentBid",
    "TimeInterval",
    "as_sent",
    "bid_allowed",
    "bid_mrid",
    "bid_problems",
    "bids_to_send",
    "day_interval",
    "document_mrid",
    "effective_strike",
    "eic_check_character",
    "first_open_isp",
    "gate_closure",
    "gates_of_day",
    "is_valid_eic",
    "isp_interval",
    "market_rules",
    "offer_quantity",
    "plan_bids",
    "plan_documents",
    "plan_pool_bids",
    "price_ladder",
    "price_problems",
    "quantity_problems",
    "span_interval",
    "split_by_gate",
    "split_quantity",
    "step_price",
    "tiers_from_devices",
    "whole_mw",
]
