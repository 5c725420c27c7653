"""Plan, record and send the bids of a window: from the stored ladders to acknowledged documents.

1. The latest ladder of every pool and ISP is priced into bids (``domain.bidding.plan``).
2. Compared with what the TSO already has (``raw.bids``), only new, changed and cancelled bids
   go out (``domain.bidding.revisions``).
3. Bids whose gate has closed at ``now`` are not sent: one ``bid_gate_closed`` alert per pool,
   market and gate (``domain.bidding.gate``).
4. The rest become one ReserveBid document per pool, market and gate with its next revision
   (``domain.bidding.documents``), XSD-validated into the outbox and recorded with its bids in
   one transaction (``integrations.tso_submissions.record_document``).
5. Every recorded, unacknowledged bid document of the window whose gate is still open is posted;
   a rejection opens a ``tso_document_rejected`` alert.

A re-run with nothing changed sends nothing; a document the TSO never answered is sent again
with the same bytes (same mRID and revision) while its gate is open.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from domain.bidding.documents import plan_documents
from domain.bidding.gate import gate_closure, split_by_gate
from domain.bidding.plan import bid_problems, plan_pool_bids
from domain.bidding.revisions import bids_to_send
from domain.cim.reserve_bid import reserve_bid_document
from domain.isp import isp_of
from integrations.bidding.store import (
    BID_DOCUMENT_KIND,
    insert_bids,
    latest_ladders,
    open_gate_closed_alert,
    pool_markets,
    sent_bids,
    sent_document_revisions,
)
from integrations.tso_client import TsoClient, TsoUnavailableError
from integrations.tso_submissions import (
    Submission,
    pending_submissions,
    record_document,
    submit,
)
from integrations.validation.store import open_rejection_alert


@dataclass
class BidOutcome:
    """What a window's bid run did."""

    planned: int = 0
    outgoing: int = 0
    too_late: int = 0
    documents_recorded: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0
    expired: int = 0
    gates_missed: list[tuple[str, str, datetime]] = field(default_factory=list)


def record_window_bids(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    now: datetime,
    run_id: str | None,
    outcome: BidOutcome,
) -> None:
    """Steps 1-4 for the ISPs in [start, end); commits."""
    ladders, computed = latest_ladders(conn, start, end)
    markets = pool_markets(conn)
    planned = plan_pool_bids(ladders, markets)
    broken = [(bid.bid_mrid, problems) for bid in planned if (problems := bid_problems(bid))]
    if broken:  # the planning functions never produce these; stop before anything leaves
        raise ValueError(f"planned bids break the bid rules: {broken[:5]}")
    scope = [(pool, markets[pool], isp) for pool, isp in computed if pool in markets]
    outgoing = bids_to_send(planned, sent_bids(conn, start, end), scope)
    split = split_by_gate(outgoing, now)
    outcome.planned += len(planned)
    outcome.outgoing += len(outgoing)
    outcome.too_late += len(split.too_late)
    missed = Counter(
        (bid.pool_id, bid.market, gate_closure(bid.isp_start, bid.market)) for bid in split.too_late
    )
    for (pool_id, market, gate), count in sorted(missed.items()):
        open_gate_closed_alert(conn, pool_id, market, gate, count, now)
        outcome.gates_missed.append((pool_id, market, gate))
    keys = {(b.pool_id, b.market, gate_closure(b.isp_start, b.market)) for b in split.sendable}
    created_at = datetime.now(UTC).replace(microsecond=0)
    for plan in plan_documents(split.sendable, sent_document_revisions(conn, keys)):
        xml = reserve_bid_document(plan, created_at=created_at)
        record_document(
            conn,
            xml,
            document_kind=BID_DOCUMENT_KIND,
            pool_id=plan.pool_id,
            period_start=isp_of(min(b.isp_start for b in plan.bids)).start,
            period_end=isp_of(max(b.isp_start for b in plan.bids)).end,
        )
        insert_bids(conn, plan, computed, now, run_id)
        outcome.documents_recorded += 1
    conn.commit()


def pending_bid_documents(
    conn: psycopg.Connection, start: datetime, end: datetime
) -> list[tuple[Submission, str]]:
    """Recorded, unacknowledged bid documents for ISPs in [start, end), with their market."""
    pending = [
        s for s in pending_submissions(conn, BID_DOCUMENT_KIND) if start <= s.period_start < end
    ]
    markets = dict(
        conn.execute(
            "select distinct document_mrid, market from raw.bids where document_mrid = any(%s)",
            ([s.document_mrid for s in pending],),
        ).fetchall()
    )
    return [(s, markets[s.document_mrid]) for s in pending]


def send_window_bids(
    conn: psycopg.Connection,
    tso: TsoClient,
    start: datetime,
    end: datetime,
    now: datetime,
    outcome: BidOutcome,
) -> None:
    """Step 5: post the window's unanswered bid documents whose gate is open at ``now``."""
    for submission, market in pending_bid_documents(conn, start, end):
        if now >= gate_closure(submission.period_start, market):
            outcome.expired += 1
            continue
        try:
            answer = submit(conn, tso, submission)
        except TsoUnavailableError:
            outcome.unanswered += 1
            continue
        ack = answer.acknowledgement
        outcome.answers[ack.status] += 1
        if not ack.accepted:
            open_rejection_alert(
                conn, submission.document_mrid, submission.revision, "reserve_bid", ack.reason_text
            )
            conn.commit()
