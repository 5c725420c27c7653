"""Bids to the TSO per pool, market and gate, priced from the pools' flexibility ladders."""

from datetime import datetime

import dagster as dg
import psycopg

from integrations.clock import PlatformClock
from integrations.database.resource import PostgresResource
from integrations.tso_client import TsoClient
from orchestration.partitions import bidding_hourly_partitions

TSO_BIDS = dg.AssetKey(["outbox", "tso_bids"])
POOL_FLEX = dg.AssetKey(["raw", "pool_flex_isp"])


def _ladders_per_pool(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, str]:
    """The window's bids (latest revision of each) as a ladder per gate, a table per pool."""
    from psycopg.rows import namedtuple_row

    from integrations.reporting.bid_ladders import ladders_by_pool

    with conn.cursor(row_factory=namedtuple_row) as cursor:
        cursor.execute(
            "select distinct on (bid_mrid) pool_id, isp_start, gate_closes_at, direction, step,"
            " quantity_mw, price_eur_mwh, status from marts.fct_bids"
            " where isp_start >= %s and isp_start < %s order by bid_mrid, revision desc",
            (start, end),
        )
        return ladders_by_pool(cursor.fetchall())


@dg.asset(
    key=TSO_BIDS,
    group_name="bidding",
    partitions_def=bidding_hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[POOL_FLEX],
    kinds={"python", "xml", "api", "postgres"},
    owners=["team:data-platform"],
)
def tso_bids(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    tso: TsoClient,
    clock: PlatformClock,
) -> dg.MaterializeResult:
    """Each pool's bids for the window's ISPs, as XSD-valid ReserveBid documents to the TSO.

    From the latest flexibility ladder of every pool and ISP: a price ladder that never offers a
    device's MW below its strike price, in whole MW within the market's limits (docs/bidding.md).
    Only new, changed (next revision) and cancelled (0 MW) bids go out, one document per pool,
    market and gate, each recorded in ``ops.tso_submissions`` and ``raw.bids`` and posted;
    ``marts.fct_bids`` shows each bid with the TSO's answer. A bid whose gate has closed at
    ``clock.now()`` is never sent: the run skips it and opens a ``bid_gate_closed`` alert.
    """
    from integrations.bidding.submit import BidOutcome, record_window_bids, send_window_bids

    window = context.partition_time_window
    now = clock.now()
    outcome = BidOutcome()
    with postgres.connect() as conn:
        record_window_bids(conn, window.start, window.end, now, context.run_id, outcome)
        send_window_bids(conn, tso, window.start, window.end, now, outcome)
    for pool_id, market, gate in outcome.gates_missed[:20]:
        context.log.warning(
            "%s %s: gate closed at %s before this run (%s); bids not sent",
            pool_id,
            market,
            gate.isoformat(),
            now.isoformat(),
        )
    context.log.info(
        "bids %s - %s at %s: %d planned, %d to send, %d too late, %d documents, answers %s",
        window.start,
        window.end,
        now.isoformat(),
        outcome.planned,
        outcome.outgoing,
        outcome.too_late,
        outcome.documents_recorded,
        dict(outcome.answers),
    )
    if outcome.unanswered:
        raise dg.Failure(
            f"{outcome.unanswered} bid documents are recorded but the TSO did not answer; "
            "re-run the partition before the gates close to send them again (same mRID and "
            "revision)",
        )
    with postgres.connect() as conn:
        ladders = _ladders_per_pool(conn, window.start, window.end)
    return dg.MaterializeResult(
        metadata={
            "decided_at": dg.MetadataValue.text(now.isoformat()),
            "bids_planned": dg.MetadataValue.int(outcome.planned),
            "bids_sent": dg.MetadataValue.int(outcome.outgoing - outcome.too_late),
            "bids_too_late": dg.MetadataValue.int(outcome.too_late),
            "documents_recorded": dg.MetadataValue.int(outcome.documents_recorded),
            "documents_accepted": dg.MetadataValue.int(outcome.answers.get("accepted", 0)),
            "documents_rejected": dg.MetadataValue.int(outcome.answers.get("rejected", 0)),
            "documents_expired_unanswered": dg.MetadataValue.int(outcome.expired),
            "gates_missed": dg.MetadataValue.int(len(outcome.gates_missed)),
            **{
                f"bid_ladder_{pool_id}": dg.MetadataValue.md(table)
                for pool_id, table in ladders.items()
            },
        }
    )
