"""Registry state in PostgreSQL: read the latest versions, write a file's outcome atomically."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from psycopg.types.json import Jsonb

from domain.registry import ENTITY_COLUMNS, FileOutcome, RegistryState
from integrations.registry.reader import LandedFile

# Columns stored per entity besides (file_id, source_line, received_at): the file's columns,
# except that a customer's personal data goes to pii.customers and only the id is versioned.
VERSION_COLUMNS: dict[str, tuple[str, ...]] = {**ENTITY_COLUMNS, "customers": ("customer_id",)}
VERSION_KEYS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "locations": ("location_id",),
    "sites": ("site_id",),
    "devices": ("device_id",),
    "pools": ("pool_id",),
    "memberships": ("device_id", "pool_id", "valid_from"),
    "contracts": ("customer_id", "valid_from"),
}
LOCK_KEY = "vppal.registry.load"
#: What the state holds for a stored customer: not its data (never read back), so any row for
#: a known customer counts as changed until pii.upsert_customers says otherwise.
PERSONAL_DATA_IN_PII: tuple[Any, ...] = ()


def _latest(conn: psycopg.Connection, entity: str) -> list[tuple[Any, ...]]:
    keys = ", ".join(VERSION_KEYS[entity])
    columns = ", ".join(VERSION_COLUMNS[entity])
    return conn.execute(
        f"select distinct on ({keys}) {columns} from raw.registry_{entity} "
        f"order by {keys}, file_id desc, source_line desc"
    ).fetchall()


def load_state(conn: psycopg.Connection) -> RegistryState:
    """Rebuild the registry's latest state from the stored versions and the customer ids."""
    state = RegistryState()
    # Only the ids: the loader may run as vppal_ingest, which cannot read personal data
    # (migration 0022). Whether a customer's data changed is decided in pii.upsert_customers.
    for (customer_id,) in conn.execute("select customer_id from pii.customers"):
        state.customers[customer_id] = PERSONAL_DATA_IN_PII
    for location_id, customer_id, ean in _latest(conn, "locations"):
        state.locations[location_id] = (customer_id, ean)
        state.location_eans[ean] = location_id
    for site_id, location_id, ean in _latest(conn, "sites"):
        state.sites[site_id] = (location_id, ean)
        state.site_eans[ean] = site_id
    for device_id, *values in _latest(conn, "devices"):
        state.devices[device_id] = tuple(values)
    for pool_id, market, name in _latest(conn, "pools"):
        state.pools[pool_id] = (market, name)
    for device_id, pool_id, valid_from, valid_to in _latest(conn, "memberships"):
        state.memberships.setdefault(device_id, {})[(pool_id, valid_from)] = valid_to
    for customer_id, share, fee, valid_from, valid_to in _latest(conn, "contracts"):
        state.contracts[(customer_id, valid_from)] = (share, fee, valid_to)
    return state


def already_loaded(conn: psycopg.Connection, landed: LandedFile) -> bool:
    """Tell whether this exact file (batch, name and content) was loaded before."""
    row = conn.execute(
        "select 1 from raw.registry_files where batch = %s and file_name = %s "
        "and content_sha256 = %s",
        (landed.batch, landed.name, landed.content_sha256),
    ).fetchone()
    return row is not None


def write_file(
    conn: psycopg.Connection, landed: LandedFile, outcome: FileOutcome | None, received_at: datetime
) -> int:
    """Store a file's new versions, personal data and quarantine rows; return the file id."""
    entity = landed.entity or "unknown"
    if entity == "customers" and outcome is not None and outcome.changed:
        _upsert_personal_data(conn, outcome, received_at)
    changed = outcome.changed if outcome else []
    rejected = outcome.rejected if outcome else []
    file_id = conn.execute(
        "insert into raw.registry_files (batch, file_name, entity, content_sha256, rows_total,"
        " rows_loaded, rows_unchanged, rows_quarantined, loaded_at)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning file_id",
        (
            landed.batch,
            landed.name,
            entity,
            landed.content_sha256,
            (outcome.total if outcome else 0),
            len(changed),
            (outcome.unchanged if outcome else 0),
            len(rejected) + len(landed.problems),
            received_at,
        ),
    ).fetchone()[0]
    if changed:
        columns = VERSION_COLUMNS[entity]
        target = ", ".join((*columns, "file_id", "source_line", "received_at"))
        with conn.cursor().copy(f"copy raw.registry_{entity} ({target}) from stdin") as copy:
            for record in changed:
                copy.write_row(
                    (*(record[c] for c in columns), file_id, record["source_line"], received_at)
                )
    sha = landed.content_sha256
    quarantine = [
        QuarantineEntry(landed.source, sha, line, entity, {}, code, reason, received_at)
        for line, code, reason in landed.problems
    ] + [
        QuarantineEntry(landed.source, sha, r.line, entity, r.record, r.code, r.reason, received_at)
        for r in rejected
    ]
    insert_quarantine(conn, quarantine)
    return file_id


def _upsert_personal_data(
    conn: psycopg.Connection, outcome: FileOutcome, received_at: datetime
) -> None:
    """Store the customers' personal data in pii; keep as changed only the new or changed ones.

    Through pii.upsert_customers (migration 0022), the one write path into pii a loader
    running as vppal_ingest has; it reports which customers were new or changed.
    """
    records = [{c: r[c] for c in ENTITY_COLUMNS["customers"]} for r in outcome.changed]
    stored = {
        customer_id
        for (customer_id,) in conn.execute(
            "select customer_id from pii.upsert_customers(%s, %s)", (Jsonb(records), received_at)
        )
    }
    kept = [r for r in outcome.changed if r["customer_id"] in stored]
    outcome.unchanged += len(outcome.changed) - len(kept)
    outcome.changed = kept


class QuarantineEntry(NamedTuple):
    """One refused record: where it came from, what it said and why it was refused."""

    source: str
    source_sha256: str | None
    source_line: int | None
    entity: str
    record: dict[str, Any]
    reason_code: str
    reason: str
    received_at: datetime


def insert_quarantine(conn: psycopg.Connection, entries: list[QuarantineEntry]) -> None:
    """Record refused records in ops.quarantine.

    A record refused again for the same reason at the same line of the same content is
    recorded once, so reloading or re-fetching does not duplicate quarantine rows.
    """
    if entries:
        conn.cursor().executemany(
            "insert into ops.quarantine (source, source_sha256, source_line, entity, record,"
            " reason_code, reason, received_at) values (%s, %s, %s, %s, %s, %s, %s, %s)"
            " on conflict (source, source_sha256, source_line, reason_code) do nothing",
            [
                entry._replace(
                    record=Jsonb(_storable(entry.record)), reason=_storable(entry.reason)
                )
                for entry in entries
            ],
        )


def _storable(value: Any) -> Any:
    """``value`` as PostgreSQL can hold it: NUL shown as U+FFFD, a lone surrogate as '?'.

    A refused record is kept as it came, but text and jsonb cannot hold either; without
    this, one such record would fail its whole file.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value
