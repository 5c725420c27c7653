"""The settlement ledger in PostgreSQL: what earlier runs wrote, and one run's new rows.

Append-only (``raw.settlement_*``, migration 0015): a run inserts a ``raw.settlement_runs`` row
with the digest of its inputs, the delivery it computed, the pool-ISPs it skipped, and only the
new versions of TSO rows, prosumer rows and statements. Runs are serialised by a session-level
advisory lock taken before the run's repeatable-read transaction starts, so two runs never
number the same version.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import psycopg

from domain.dispatch.direction import Direction
from domain.settlement.allocation import ProsumerSettlementRow
from domain.settlement.day import DaySettlement, DayVersions
from domain.settlement.tso import TsoSettlementRow

_LOCK_KEY = "vppal.settlement"

TSO_COLUMNS = (
    "pool_id",
    "isp_start",
    "market",
    "requested_kwh",
    "delivered_kwh",
    "settled_kwh",
    "price_eur_mwh",
    "price_kind",
    "price_source",
    "gross_eur",
    "penalty_eur",
    "revenue_eur",
    "currency",
    "aggregator_margin_eur",
    "statement_version",
)
PROSUMER_COLUMNS = (
    "device_id",
    "customer_pseudonym",
    "pool_id",
    "isp_start",
    "contribution_kwh",
    "payout_eur",
    "currency",
    "statement_version",
)


@dataclass(frozen=True)
class RunCounts:
    """What one settlement run added."""

    settlement_id: int
    isps_settled: int
    isps_skipped: int
    tso_rows_added: int
    prosumer_rows_added: int
    statements_added: int


@contextmanager
def settlement_transaction(url: str) -> Iterator[psycopg.Connection]:
    """A connection holding the settlement lock, in one repeatable-read transaction.

    The lock is taken first (outside the transaction), so the transaction's snapshot sees
    every earlier run's rows; the snapshot then keeps all reads of the run consistent.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (_LOCK_KEY,))
        try:
            conn.autocommit = False
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                yield conn
        finally:
            conn.autocommit = True
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (_LOCK_KEY,))


def tso_ledger(conn: psycopg.Connection, start: datetime, end: datetime) -> list[TsoSettlementRow]:
    """Every TSO row written for ISPs in [start, end), all versions, in version order."""
    rows = conn.execute(
        f"select {', '.join(TSO_COLUMNS)} from raw.settlement_tso_isp"
        " where isp_start >= %s and isp_start < %s order by statement_version, pool_id, isp_start",
        (start, end),
    ).fetchall()
    return [TsoSettlementRow(*row) for row in rows]


def prosumer_ledger(
    conn: psycopg.Connection, start: datetime, end: datetime
) -> list[ProsumerSettlementRow]:
    """Every prosumer row written for ISPs in [start, end), all versions, in version order."""
    rows = conn.execute(
        f"select {', '.join(PROSUMER_COLUMNS)} from raw.settlement_prosumer_isp"
        " where isp_start >= %s and isp_start < %s"
        " order by statement_version, customer_pseudonym, device_id, pool_id, isp_start",
        (start, end),
    ).fetchall()
    return [ProsumerSettlementRow(*row) for row in rows]


def pool_versions(conn: psycopg.Connection, month: date) -> dict[str, int]:
    """The latest TSO version per pool in ``month``."""
    rows = conn.execute(
        "select pool_id, max(statement_version) from raw.settlement_tso_isp"
        " where month = %s group by pool_id",
        (month,),
    ).fetchall()
    return {pool_id: int(version) for pool_id, version in rows}


def prosumer_months(conn: psycopg.Connection, month: date) -> dict[str, tuple[int, Decimal]]:
    """The latest statement version and the month's total so far per customer pseudonym."""
    rows = conn.execute(
        "select customer_pseudonym, max(statement_version), sum(total_eur)"
        " from raw.prosumer_statements where month = %s group by customer_pseudonym",
        (month,),
    ).fetchall()
    return {pseudonym: (int(version), total) for pseudonym, version, total in rows}


def record_run(
    conn: psycopg.Connection,
    settlement: DaySettlement,
    versions: DayVersions,
    *,
    revisions: dict[str, int],
    inputs_digest: str,
    run_id: str | None,
    created_at: datetime,
    month: date,
) -> RunCounts:
    """Append one run: its record, delivery, skips and the new versions."""
    (settlement_id,) = conn.execute(
        "insert into raw.settlement_runs (local_date, inputs_digest, run_id, computed_at,"
        " isps_settled, isps_skipped, tso_rows_added, prosumer_rows_added, statements_added)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning settlement_id",
        (
            settlement.local_date,
            inputs_digest,
            run_id,
            created_at,
            len(settlement.allocations),
            len(settlement.skipped),
            len(versions.tso_rows),
            len(versions.prosumer_rows),
            len(versions.statements),
        ),
    ).fetchone()
    with conn.cursor() as cursor:
        with cursor.copy(
            "copy raw.settlement_delivery_isp (settlement_id, activation_id, revision, pool_id,"
            " isp_start, direction, requested_kwh, measured_kwh, baseline_kwh, delivered_kwh,"
            " delivery_ratio, shortfall_kwh, coverage) from stdin"
        ) as copy:
            for d in settlement.deliveries:
                copy.write_row(
                    (
                        settlement_id,
                        d.activation_id,
                        revisions[d.activation_id],
                        d.pool_id,
                        d.isp_start,
                        Direction(d.direction).value,
                        d.requested_kwh,
                        d.measured_kwh,
                        d.baseline_kwh,
                        d.delivered_kwh,
                        d.delivery_ratio,
                        d.shortfall_kwh,
                        d.coverage,
                    )
                )
        with cursor.copy(
            "copy raw.settlement_skipped (settlement_id, pool_id, isp_start, reason_code, reason)"
            " from stdin"
        ) as copy:
            for s in settlement.skipped:
                copy.write_row((settlement_id, s.pool_id, s.isp_start, s.reason_code, s.reason))
        with cursor.copy(
            f"copy raw.settlement_tso_isp ({', '.join(TSO_COLUMNS)}, month, settlement_id,"
            " created_at) from stdin"
        ) as copy:
            for row in versions.tso_rows:
                values = [getattr(row, column) for column in TSO_COLUMNS]
                copy.write_row((*values, month, settlement_id, created_at))
        with cursor.copy(
            f"copy raw.settlement_prosumer_isp ({', '.join(PROSUMER_COLUMNS)}, month,"
            " settlement_id, created_at) from stdin"
        ) as copy:
            for row in versions.prosumer_rows:
                values = [getattr(row, column) for column in PROSUMER_COLUMNS]
                copy.write_row((*values, month, settlement_id, created_at))
        with cursor.copy(
            "copy raw.prosumer_statements (customer_pseudonym, month, statement_version,"
            " total_eur, cumulative_total_eur, currency, local_date, settlement_id, created_at)"
            " from stdin"
        ) as copy:
            for s in versions.statements:
                copy.write_row(
                    (
                        s.customer_pseudonym,
                        s.month,
                        s.statement_version,
                        s.total_eur,
                        s.cumulative_total_eur,
                        s.currency,
                        settlement.local_date,
                        settlement_id,
                        s.created_at,
                    )
                )
    return RunCounts(
        settlement_id=int(settlement_id),
        isps_settled=len(settlement.allocations),
        isps_skipped=len(settlement.skipped),
        tso_rows_added=len(versions.tso_rows),
        prosumer_rows_added=len(versions.prosumer_rows),
        statements_added=len(versions.statements),
    )


def settled_digests(conn: psycopg.Connection, days: list[date]) -> set[tuple[date, str]]:
    """The (day, inputs digest) pairs some run has settled."""
    rows = conn.execute(
        "select distinct local_date, inputs_digest from raw.settlement_runs"
        " where local_date = any(%s)",
        (days,),
    ).fetchall()
    return {(day, digest) for day, digest in rows}
