"""Bids in PostgreSQL: the ladders they are priced from, what the TSO has, what was sent.

Reads ``raw.pool_flex_ladder`` (latest computation per pool and ISP), ``raw.bids`` and
``ops.tso_submissions``; writes ``raw.bids`` (one row per bid revision placed in a document).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg

from domain.bidding.documents import BidDocumentPlan, DocumentKey
from domain.bidding.gate import gate_closure
from domain.bidding.revisions import SentBid

#: ``document_kind`` of bid documents in ops.tso_submissions.
BID_DOCUMENT_KIND = "reserve_bid"


def latest_ladders(
    conn: psycopg.Connection, start: datetime, end: datetime
) -> tuple[list[dict[str, Any]], dict[tuple[str, datetime], datetime]]:
    """Ladder rows of the latest flexibility computation per pool and ISP in [start, end).

    Returns the rows (pool_id, isp_start, direction, strike_price_eur_mwh, cumulative_mw) and,
    per (pool_id, isp_start) that has a computation at all (also one with no ladder levels:
    nothing to offer), the ``computed_at`` used.
    """
    computed = conn.execute(
        "select pool_id, isp_start, max(computed_at) from raw.pool_flex_isp"
        " where isp_start >= %s and isp_start < %s group by pool_id, isp_start",
        (start, end),
    ).fetchall()
    rows = conn.execute(
        "select l.pool_id, l.isp_start, l.direction, l.strike_price_eur_mwh, l.cumulative_mw"
        " from raw.pool_flex_ladder l"
        " join (select pool_id, isp_start, max(computed_at) as computed_at"
        "       from raw.pool_flex_isp where isp_start >= %s and isp_start < %s"
        "       group by pool_id, isp_start) c"
        "   on c.pool_id = l.pool_id and c.isp_start = l.isp_start"
        "  and c.computed_at = l.computed_at"
        " order by l.pool_id, l.isp_start, l.direction, l.strike_price_eur_mwh",
        (start, end),
    ).fetchall()
    columns = ("pool_id", "isp_start", "direction", "strike_price_eur_mwh", "cumulative_mw")
    return [dict(zip(columns, row, strict=True)) for row in rows], {
        (pool, isp): at for pool, isp, at in computed
    }


def pool_markets(conn: psycopg.Connection) -> dict[str, str]:
    """Every registered pool's market."""
    return dict(conn.execute("select pool_id, market from marts.dim_pools").fetchall())


def sent_bids(conn: psycopg.Connection, start: datetime, end: datetime) -> list[SentBid]:
    """The latest revision of every bid for an ISP in [start, end) placed in a document.

    A bid counts as sent once its document is recorded, acknowledged or not: an unacknowledged
    document is sent again with the same bytes, never replaced by a new revision.
    """
    rows = conn.execute(
        "select distinct on (bid_mrid) bid_mrid, pool_id, market, isp_start, direction, step,"
        " revision, quantity_mw, price_eur_mwh from raw.bids"
        " where isp_start >= %s and isp_start < %s order by bid_mrid, revision desc",
        (start, end),
    ).fetchall()
    return [SentBid(*row) for row in rows]


def sent_document_revisions(
    conn: psycopg.Connection, keys: Iterable[DocumentKey]
) -> dict[DocumentKey, int]:
    """The latest document revision recorded per (pool_id, market, gate)."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = conn.execute(
        "select pool_id, market, gate_closes_at, max(document_revision) from raw.bids"
        " where gate_closes_at = any(%s) group by pool_id, market, gate_closes_at",
        (sorted({gate for _, _, gate in wanted}),),
    ).fetchall()
    return {
        (pool, market, gate): revision
        for pool, market, gate, revision in rows
        if (pool, market, gate) in wanted
    }


def insert_bids(
    conn: psycopg.Connection,
    plan: BidDocumentPlan,
    flex_computed_at: dict[tuple[str, datetime], datetime],
    planned_at: datetime,
    run_id: str | None,
) -> int:
    """Record the bids of a recorded document; an existing (bid, revision) is left alone."""
    for bid in plan.bids:
        conn.execute(
            "insert into raw.bids (bid_mrid, revision, document_mrid, document_revision,"
            " pool_id, market, isp_start, direction, step, quantity_mw, price_eur_mwh,"
            " gate_closes_at, flex_computed_at, planned_at, run_id)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " on conflict (bid_mrid, revision) do nothing",
            (
                bid.bid_mrid,
                bid.revision,
                plan.document_mrid,
                plan.revision,
                bid.pool_id,
                bid.market,
                bid.isp_start,
                bid.direction,
                bid.step,
                bid.quantity_mw,
                bid.price_eur_mwh,
                gate_closure(bid.isp_start, bid.market),
                flex_computed_at[(bid.pool_id, bid.isp_start)],
                planned_at,
                run_id,
            ),
        )
    return len(plan.bids)


def open_gate_closed_alert(
    conn: psycopg.Connection, pool_id: str, market: str, gate: datetime, bids: int, now: datetime
) -> None:
    """One ``bid_gate_closed`` alert per pool, market and gate whose bids came too late."""
    conn.execute(
        "insert into ops.alerts (alert_type, alert_key, entity_id, severity, message, details,"
        " opened_at) values ('bid_gate_closed', %s, %s, 'warning', %s, %s, now())"
        " on conflict (alert_key) do nothing",
        (
            f"bid_gate_closed:{pool_id}:{market}:{gate.isoformat()}",
            pool_id,
            f"{bids} {market} bid(s) of {pool_id} not sent: the gate closed at "
            f"{gate.isoformat()} before the run at {now.isoformat()}",
            json.dumps({"market": market, "gate": gate.isoformat(), "bids": bids}),
        ),
    )
