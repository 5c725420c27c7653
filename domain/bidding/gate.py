"""Gate closure: a bid for an ISP is sent only before its market's gate closes.

The gate of an ISP closes ``gate_closure_lead`` before the ISP starts (aFRR: 25 minutes). At
the closing instant itself the gate is closed. Everything is computed on UTC instants, so the
92- and 100-ISP days need no special case: the gate of 02:00+01:00 on 2025-10-26 (the repeated
hour) is 00:35 UTC, one hour after the gate of 02:00+02:00.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, Protocol, TypeVar

from domain.bidding.markets import market_rules
from domain.isp import Isp, floor_to_isp, isp_of, isps_of_day


class _HasGate(Protocol):
    @property
    def market(self) -> str: ...

    @property
    def isp_start(self) -> datetime: ...


BidT = TypeVar("BidT", bound=_HasGate)


def _require_isp_start(isp_start: datetime) -> None:
    if floor_to_isp(isp_start) != isp_start:
        raise ValueError(f"{isp_start.isoformat()} is not the start of an ISP")


def gate_closure(isp_start: datetime, market: str) -> datetime:
    """The instant (UTC) after which no bid for the ISP starting at ``isp_start`` may be sent."""
    _require_isp_start(isp_start)
    return isp_of(isp_start).start - market_rules(market).gate_closure_lead


def bid_allowed(now: datetime, isp_start: datetime, market: str) -> bool:
    """True while the gate for the ISP is open: strictly before its closure."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now {now.isoformat()} is naive; give a timezone-aware datetime")
    return now < gate_closure(isp_start, market)


def first_open_isp(now: datetime, market: str) -> Isp:
    """The earliest ISP whose gate is still open at ``now``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now {now.isoformat()} is naive; give a timezone-aware datetime")
    # The ISP containing now + lead started at or before it, so its gate is closed already.
    return isp_of(isp_of(now + market_rules(market).gate_closure_lead).end)


@dataclass(frozen=True)
class Gate:
    """One ISP of a local day and the instant its gate closes."""

    isp: Isp
    closes_at: datetime


def gates_of_day(day: date, market: str) -> list[Gate]:
    """The gate of every ISP of local day ``day`` (92, 96 or 100), in time order."""
    return [Gate(isp, gate_closure(isp.start, market)) for isp in isps_of_day(day)]


@dataclass(frozen=True)
class GateSplit(Generic[BidT]):
    """Planned bids split at ``now``: those that may go, and those too late (for an alert)."""

    sendable: list[BidT]
    too_late: list[BidT]


def split_by_gate(bids: Iterable[BidT], now: datetime) -> GateSplit[BidT]:
    """Split bids (anything with ``market`` and ``isp_start``) by whether their gate is open."""
    sendable: list[BidT] = []
    too_late: list[BidT] = []
    for bid in bids:
        (sendable if bid_allowed(now, bid.isp_start, bid.market) else too_late).append(bid)
    return GateSplit(sendable, too_late)
