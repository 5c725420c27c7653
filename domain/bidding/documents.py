"""Which bids go into which document: one document per pool, market and gate.

This decides the content and identity of each ``ReserveBid_MarketDocument``; the XML itself is
built elsewhere (``integrations/cim``). A gate with nothing new, changed or cancelled yields no
document. Each document for the same pool, market and gate gets the next revision number and,
with it, an mRID of its own: the same gate never produces two different documents under one
mRID.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.bidding.identifiers import document_mrid
from domain.bidding.intervals import TimeInterval, span_interval
from domain.bidding.markets import DIRECTIONS
from domain.bidding.revisions import MAX_REVISION, OutgoingBid

DocumentKey = tuple[str, str, datetime]  # pool_id, market, gate (UTC)


@dataclass(frozen=True)
class BidDocumentPlan:
    """The identity and bids of one document to send."""

    document_mrid: str
    revision: int
    pool_id: str
    market: str
    gate: datetime
    period: TimeInterval
    bids: tuple[OutgoingBid, ...]


def plan_documents(
    bids: Iterable[OutgoingBid], sent_revisions: Mapping[DocumentKey, int]
) -> list[BidDocumentPlan]:
    """Group outgoing bids per (pool, market, gate) into documents with their next revision.

    ``sent_revisions`` holds the latest document revision already sent per key (absent: none).
    Bids inside a document are ordered by ISP, direction (up first) and step.
    """
    groups: dict[DocumentKey, list[OutgoingBid]] = {}
    for bid in bids:
        groups.setdefault((bid.pool_id, bid.market, bid.gate.astimezone(UTC)), []).append(bid)
    documents = []
    for key in sorted(groups):
        pool_id, market, gate = key
        revision = sent_revisions.get(key, 0) + 1
        if revision > MAX_REVISION:
            raise ValueError(f"{pool_id} {market} gate {gate.isoformat()}: revisions exhausted")
        members = sorted(
            groups[key], key=lambda b: (b.isp_start, DIRECTIONS.index(b.direction), b.step)
        )
        documents.append(
            BidDocumentPlan(
                document_mrid=document_mrid(pool_id, market, gate, revision),
                revision=revision,
                pool_id=pool_id,
                market=market,
                gate=gate,
                period=span_interval([b.isp_start for b in members]),
                bids=tuple(members),
            )
        )
    return documents
