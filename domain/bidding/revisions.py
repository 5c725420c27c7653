"""Revisions: send a bid again only when it changed, cancel it with quantity 0.

Compared with the latest revision the TSO received of each bid mRID:

- a planned bid the TSO has not seen goes out as revision 1;
- a planned bid whose quantity and price are unchanged is not sent again;
- a planned bid whose quantity or price changed goes out with the revision + 1;
- a bid the TSO holds (quantity > 0) that the plan no longer contains is cancelled: the same
  mRID and price with quantity 0 and the revision + 1. A cancelled bid planned again is a
  change like any other.

Only sent bids of the (pool, market, ISP) combinations in ``scope`` are compared, so planning
one gate never cancels the bids of another. A rejected bid counts as sent: it is sent again
only once its content changes, as the TSO registration does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal

from domain.bidding.plan import PlannedBid

#: ENTSO-E's revisionNumber is 1..999.
MAX_REVISION = 999


@dataclass(frozen=True)
class SentBid:
    """The latest revision of a bid the TSO has received (a row of ``marts.fct_bids``)."""

    bid_mrid: str
    pool_id: str
    market: str
    isp_start: datetime
    direction: str
    step: int
    revision: int
    quantity_mw: int
    price_eur_mwh: Decimal


@dataclass(frozen=True)
class OutgoingBid(PlannedBid):
    """A bid to send now with its revision number; quantity 0 cancels it."""

    revision: int

    @property
    def is_cancellation(self) -> bool:
        """True when this revision withdraws the bid."""
        return self.quantity_mw == 0


def _outgoing(bid: PlannedBid, revision: int) -> OutgoingBid:
    planned = {field.name: getattr(bid, field.name) for field in fields(PlannedBid)}
    return OutgoingBid(**planned, revision=revision)


def _next_revision(sent: SentBid) -> int:
    if sent.revision >= MAX_REVISION:
        raise ValueError(f"bid {sent.bid_mrid} already has revision {MAX_REVISION}, the last one")
    return sent.revision + 1


def bids_to_send(
    planned: Iterable[PlannedBid],
    sent: Iterable[SentBid],
    scope: Iterable[tuple[str, str, datetime]],
) -> list[OutgoingBid]:
    """New, changed and cancelled bids for the (pool_id, market, isp_start) keys in ``scope``."""
    keys = set(scope)
    latest: dict[str, SentBid] = {}
    for bid in sent:  # the latest revision per mRID, whatever else ``sent`` holds
        if (bid.pool_id, bid.market, bid.isp_start) in keys:
            known = latest.get(bid.bid_mrid)
            if known is None or bid.revision > known.revision:
                latest[bid.bid_mrid] = bid
    outgoing: list[OutgoingBid] = []
    seen: set[str] = set()
    for bid in planned:
        if (bid.pool_id, bid.market, bid.isp_start) not in keys:
            raise ValueError(f"planned bid {bid.bid_mrid} lies outside the scope")
        mrid = bid.bid_mrid
        if mrid in seen:
            raise ValueError(f"two planned bids share the mRID {mrid}")
        seen.add(mrid)
        before = latest.get(mrid)
        if before is None:
            outgoing.append(_outgoing(bid, 1))
        elif (before.quantity_mw, before.price_eur_mwh) != (bid.quantity_mw, bid.price_eur_mwh):
            outgoing.append(_outgoing(bid, _next_revision(before)))
    for mrid, before in sorted(latest.items()):
        if mrid not in seen and before.quantity_mw > 0:
            cancelled = PlannedBid(
                before.pool_id,
                before.market,
                before.isp_start,
                before.direction,
                before.step,
                0,
                before.price_eur_mwh,
            )
            outgoing.append(_outgoing(cancelled, _next_revision(before)))
    return outgoing


def as_sent(bids: Iterable[OutgoingBid]) -> list[SentBid]:
    """What the TSO holds after ``bids`` were sent (to feed the next comparison)."""
    return [
        SentBid(
            b.bid_mrid,
            b.pool_id,
            b.market,
            b.isp_start,
            b.direction,
            b.step,
            b.revision,
            b.quantity_mw,
            b.price_eur_mwh,
        )
        for b in bids
    ]
