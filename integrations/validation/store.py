"""What the validation documents are made of, read from PostgreSQL per pool and hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import psycopg

from domain.measurement_grid import MAX_HOLD


@dataclass(frozen=True)
class PoolGrid:
    """A pool's measured power on its grid (4 s for aFRR, 1 minute otherwise)."""

    pool_id: str
    step: timedelta
    power_mw: dict[datetime, float]


def pool_power(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, PoolGrid]:
    """Every pool's grid of measured power in [start, end) from ``marts.fct_pool_power``."""
    pools = conn.execute(
        "select pool_id, case when market = 'afrr' then 4 else 60 end from marts.dim_pools"
    ).fetchall()
    grids = {
        pool_id: PoolGrid(pool_id, timedelta(seconds=seconds), {}) for pool_id, seconds in pools
    }
    rows = conn.execute(
        "select pool_id, ts, power_mw::double precision from marts.fct_pool_power"
        " where ts >= %s and ts < %s",
        (start, end),
    )
    for pool_id, ts, power in rows:
        if pool_id in grids:
            grids[pool_id].power_mw[ts] = power
    return grids


def member_readings(conn: psycopg.Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """Readings (kW) of each pool's member devices, from ``MAX_HOLD`` before ``start`` to ``end``.

    Columns pool_id, device_id, ts, power (kW). A device counts for the pool while its
    membership is valid at the reading's time; readings before ``start`` seed the holds.
    """
    rows = conn.execute(
        "select m.pool_id, r.device_id, r.ts, r.power_w / 1000.0"
        " from raw.device_measurements r join marts.fct_device_pool_membership m"
        " on m.device_id = r.device_id and r.ts >= m.valid_from"
        " and (m.valid_to is null or r.ts < m.valid_to)"
        " where r.ts >= %s and r.ts < %s",
        (start - MAX_HOLD, end),
    ).fetchall()
    return pd.DataFrame(rows, columns=["pool_id", "device_id", "ts", "power"])


def baselines_for_targets(conn: psycopg.Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """Issued baselines whose target minute lies in [start, end)."""
    rows = conn.execute(
        "select pool_id, issued_at, target_ts, horizon_min, baseline_mw::double precision"
        " from raw.pool_baselines where target_ts >= %s and target_ts < %s",
        (start, end),
    ).fetchall()
    return pd.DataFrame(
        rows, columns=["pool_id", "issued_at", "target_ts", "horizon_min", "baseline_mw"]
    )


def open_rejection_alert(
    conn: psycopg.Connection, document_mrid: str, revision: int, kind: str, reason: str
) -> None:
    """One ``tso_document_rejected`` alert per rejected document revision."""
    import json

    conn.execute(
        "insert into ops.alerts (alert_type, alert_key, entity_id, severity, message, details,"
        " opened_at) values ('tso_document_rejected', %s, %s, 'error', %s, %s, now())"
        " on conflict (alert_key) do nothing",
        (
            f"tso_document_rejected:{document_mrid}:{revision}",
            document_mrid,
            f"the TSO rejected {kind} document {document_mrid} r{revision}: {reason}",
            json.dumps({"kind": kind, "revision": revision, "reason": reason}),
        ),
    )
