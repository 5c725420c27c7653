"""SQL of the measurement loads: partitions, load records, quarantine, duplicate resolution."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING

import psycopg
from psycopg import sql

from domain.measurement_rules import REASONS, DeviceLimits
from integrations.measurements.binary_copy import COLUMNS as COPY_COLUMNS

if TYPE_CHECKING:
    from integrations.measurements.loader import LoadResult
    from integrations.measurements.reader import MalformedRow, MeasurementFile


def copy_readings_into(leaf: sql.Composable) -> sql.Composed:
    """Binary COPY into one day partition, columns in the order of ``binary_copy.COLUMNS``."""
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in COPY_COLUMNS)
    return sql.SQL("copy {} ({}) from stdin (format binary)").format(leaf, columns)


LOCK_KEY = "vppal.measurements.load"

# One sentence per refused reading, naming it and the reason (built set-based in SQL).
NUL_SHOWN_AS = "\ufffd".encode()
QUARANTINE_SQL = """
insert into ops.quarantine
    (source, source_sha256, source_line, entity, record, reason_code, reason, received_at)
select
    %(source)s, %(sha)s, q.line, 'measurements',
    case when q.reason_code = 'malformed_row'
        then jsonb_build_object('text', q.line_text)
        else jsonb_build_object('device_id', q.device_id, 'ts', q.ts, 'power_w', q.power_w)
    end,
    q.reason_code,
    case q.reason_code
        when 'malformed_row' then 'line ' || q.line || ' is not one reading: ' || q.detail
        else coalesce(nullif(q.device_id, ''), '(no device_id)') || ' at '
            || coalesce(nullif(q.ts, ''), '(no ts)') || ': '
            || case q.reason_code
                when 'power_above_rated' then
                    'power_w ' || q.power_w || ' W is above 1.5 x the rated '
                    || d.rated_power_kw || ' kW (' || (1500 * d.rated_power_kw)::float8 || ' W)'
                when 'unparsable_power' then 'power_w ' || quote_literal(q.power_w)
                    || ' is not a number'
                when 'future_timestamp' then 'ts lies more than 5 minutes after the load time'
                else coalesce((%(texts)s::jsonb) ->> q.reason_code, q.reason_code)
            end
    end,
    %(received_at)s
from pg_temp.refused_readings as q
left join marts.dim_devices as d
    on d.device_id = q.device_id and q.reason_code = 'power_above_rated'
on conflict (source, source_sha256, source_line, reason_code) do nothing
"""

RESOLVE_WITHIN_LOAD_SQL = """
with ranked as (
    select
        tableoid, ctid, device_id, ts, power_w,
        row_number() over w as position,
        first_value(power_w) over w as kept_power_w
    from raw.device_measurements
    where load_id = %(load)s and ts between %(lo)s and %(hi)s
    window w as (partition by device_id, ts order by ctid desc)
),

doomed as (select * from ranked where position > 1),

recorded as (
    insert into ops.measurement_conflicts
        (device_id, ts, kept_power_w, kept_load_id, dropped_power_w, dropped_load_id)
    select device_id, ts, kept_power_w, %(load)s, power_w, %(load)s
    from doomed where power_w is distinct from kept_power_w
    returning 1
),

removed as (
    delete from raw.device_measurements as r
    using doomed as d
    where r.tableoid = d.tableoid and r.ctid = d.ctid and r.ts = d.ts
    returning 1
)

select (select count(*) from removed), (select count(*) from recorded)
"""

RESOLVE_ACROSS_LOADS_SQL = """
with pairs as (
    select
        o.tableoid as old_table, o.ctid as old_ctid, o.device_id, o.ts,
        o.power_w as old_power_w, o.load_id as old_load, n.power_w as new_power_w
    from raw.device_measurements as n
    inner join raw.device_measurements as o
        on o.device_id = n.device_id and o.ts = n.ts and o.load_id <> n.load_id
    where
        n.load_id = %(load)s
        and n.ts between %(lo)s and %(hi)s
        and o.ts between %(lo)s and %(hi)s
),

equal_dropped as (
    delete from raw.device_measurements as n
    using pairs as p
    where
        n.load_id = %(load)s and n.device_id = p.device_id and n.ts = p.ts
        and p.old_power_w = p.new_power_w
    returning 1
),

recorded as (
    insert into ops.measurement_conflicts
        (device_id, ts, kept_power_w, kept_load_id, dropped_power_w, dropped_load_id)
    select device_id, ts, new_power_w, %(load)s, old_power_w, old_load
    from pairs where old_power_w <> new_power_w
    returning 1
),

superseded as (
    delete from raw.device_measurements as o
    using pairs as p
    where o.tableoid = p.old_table and o.ctid = p.old_ctid and p.old_power_w <> p.new_power_w
    returning 1
),

touched_hours as (
    -- the (load, device, hour) whose rows shrink: the new load's equal duplicates, the earlier
    -- loads' superseded readings
    select distinct
        case when old_power_w = new_power_w then %(load)s else old_load end as load_id,
        device_id,
        date_bin('1 hour', ts, timestamptz '2000-01-01 00:00+00') as hour_start
    from pairs
),

stale_summaries as (
    -- their hour summaries no longer describe the rows: the quality suite reads the rows
    delete from raw.measurement_load_hours as s
    using touched_hours as t
    where s.load_id = t.load_id and s.device_id = t.device_id and s.hour_start = t.hour_start
    returning 1
)

select (select count(*) from equal_dropped), (select count(*) from recorded),
    (select count(*) from superseded)
"""

# The load's counts per (device, hour) from the spooled pieces (see hour_summary): readings,
# first and last reading, and the gaps within the hour as two arrays sorted by gap.
SAVE_HOUR_SUMMARIES_SQL = """
insert into raw.measurement_load_hours
    (load_id, device_id, hour_start, readings, first_ts, last_ts, gap_tenths, gap_readings)
select
    %(load)s,
    device_id,
    timestamptz 'epoch' + hour_start_us * interval '1 microsecond',
    sum(readings),
    timestamptz 'epoch' + min(first_us) * interval '1 microsecond',
    timestamptz 'epoch' + max(last_us) * interval '1 microsecond',
    coalesce(array_agg(gap_tenths order by gap_tenths) filter (where gap_tenths >= 0), '{}'),
    coalesce(array_agg(readings order by gap_tenths) filter (where gap_tenths >= 0), '{}')
from (
    select
        device_id, hour_start_us, gap_tenths,
        sum(readings) as readings, min(first_us) as first_us, max(last_us) as last_us
    from pg_temp.load_hour_pieces
    where device_id <> all(%(disordered)s)
    group by device_id, hour_start_us, gap_tenths
) as per_gap
group by device_id, hour_start_us
"""


def lock_loads(conn: psycopg.Connection) -> None:
    """One measurement load at a time (until this transaction ends)."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (LOCK_KEY,))


def device_limits(conn: psycopg.Connection) -> DeviceLimits:
    """Registered devices and their rated power, from the registry mart."""
    if conn.execute("select to_regclass('marts.dim_devices')").fetchone()[0] is None:
        return DeviceLimits.from_pairs([])
    rows = conn.execute("select device_id, rated_power_kw from marts.dim_devices").fetchall()
    return DeviceLimits.from_pairs([(device_id, float(kw)) for device_id, kw in rows])


def file_already_loaded(conn: psycopg.Connection, content_sha256: str) -> bool:
    """Tell whether a file with this content was loaded (under any name)."""
    row = conn.execute(
        "select 1 from raw.measurement_loads where source = 'file' and content_sha256 = %s"
        " and replaced_by is null",
        (content_sha256,),
    ).fetchone()
    return row is not None


def begin_load(
    conn: psycopg.Connection, source: str, source_key: str, content_sha256: str | None
) -> int:
    """Record the load; its id is also the default load_id of rows inserted in this transaction."""
    load_id = conn.execute(
        "insert into raw.measurement_loads (source, source_key, content_sha256)"
        " values (%s, %s, %s) returning load_id",
        (source, source_key, content_sha256),
    ).fetchone()[0]
    conn.execute("select set_config('vppal.load_id', %s, true)", (str(load_id),))
    return load_id


def transaction_start(conn: psycopg.Connection) -> datetime:
    """``now()`` of the current transaction: the ``received_at`` of the rows it loads."""
    return conn.execute("select now()").fetchone()[0]


def save_hour_summaries(
    conn: psycopg.Connection, load_id: int, pieces_csv: IO[bytes], disordered: list[str]
) -> None:
    """Sum the load's spooled hour pieces into raw.measurement_load_hours.

    ``disordered`` devices repeated a timestamp or went back in time: they get no summary.
    """
    conn.execute(
        "create temp table if not exists load_hour_pieces (device_id text, hour_start_us bigint,"
        " gap_tenths bigint, readings bigint, first_us bigint, last_us bigint) on commit drop"
    )
    conn.execute("truncate pg_temp.load_hour_pieces")
    with conn.cursor().copy("copy pg_temp.load_hour_pieces from stdin (format csv)") as copy:
        while chunk := pieces_csv.read(8 << 20):
            copy.write(chunk)
    conn.execute(SAVE_HOUR_SUMMARIES_SQL, {"load": load_id, "disordered": disordered})


def ensure_day_partition(conn: psycopg.Connection, day: datetime) -> sql.Identifier:
    """Create the UTC day partition of raw.device_measurements if missing; return its name."""
    leaf = sql.Identifier("raw", f"device_measurements_{day:%Y%m%d}")
    conn.execute(
        sql.SQL(
            "create table if not exists {} partition of raw.device_measurements"
            " for values from ({}) to ({})"
        ).format(leaf, sql.Literal(day), sql.Literal(day + timedelta(days=1)))
    )
    return leaf


def quarantine(
    conn: psycopg.Connection,
    refused_csv: IO[bytes],
    malformed: list[MalformedRow],
    source: str,
    content_sha256: str | None,
    received_at: datetime,
) -> dict[str, int]:
    """Copy refused readings into ops.quarantine with their reasons; return counts by reason."""
    conn.execute(
        "create temp table if not exists refused_readings"
        " (line bigint, device_id text, ts text, power_w text, reason_code text,"
        " line_text text, detail text)"
        " on commit drop"
    )
    conn.execute("truncate pg_temp.refused_readings")
    # PostgreSQL text cannot hold NUL: a refused value shows it as U+FFFD (UTF-8 never has a
    # 0x00 byte inside another character, so the bytes can be replaced as they are).
    with conn.cursor().copy(
        "copy pg_temp.refused_readings (line, device_id, ts, power_w, reason_code)"
        " from stdin (format csv)"
    ) as copy:
        while chunk := refused_csv.read(8 << 20):
            copy.write(chunk.replace(b"\x00", NUL_SHOWN_AS))
    if malformed:
        with conn.cursor().copy(
            "copy pg_temp.refused_readings (line, reason_code, line_text, detail) from stdin"
        ) as copy:
            for row in malformed:
                text = row.text.replace("\x00", "\ufffd")
                copy.write_row((row.line, "malformed_row", text, row.reason))
    texts = json.dumps(REASONS)
    conn.execute(
        QUARANTINE_SQL,
        {"source": source, "sha": content_sha256, "texts": texts, "received_at": received_at},
    )
    return dict(
        conn.execute(
            "select reason_code, count(*) from pg_temp.refused_readings group by 1 order by 1"
        ).fetchall()
    )


def resolve_duplicates(
    conn: psycopg.Connection, result: LoadResult, within_load: bool
) -> tuple[int, int]:
    """Drop equal duplicates, keep the latest of conflicting ones; return (dropped, conflicts).

    ``dropped`` counts rows of this load removed (repeats within it, equal to earlier loads);
    ``conflicts`` counts disagreeing pairs recorded in ops.measurement_conflicts.
    """
    window = {"load": result.load_id, "lo": result.window_start, "hi": result.window_end}
    # Rows copied a moment ago have no statistics yet, and a nested loop over a self-join of
    # millions of readings never ends: these set-based steps are hash joins and sorts.
    conn.execute("set local enable_nestloop = off")
    conn.execute("set local work_mem = '256MB'")
    dropped = conflicts = 0
    if within_load:
        removed, recorded = conn.execute(RESOLVE_WITHIN_LOAD_SQL, window).fetchone()
        dropped += removed
        conflicts += recorded
    overlapping = conn.execute(
        "select exists (select 1 from raw.measurement_loads where load_id <> %(load)s"
        " and replaced_by is null and window_start <= %(hi)s and window_end >= %(lo)s)",
        window,
    ).fetchone()[0]
    if overlapping:
        equal, recorded, _superseded = conn.execute(RESOLVE_ACROSS_LOADS_SQL, window).fetchone()
        dropped += equal
        conflicts += recorded
    return dropped, conflicts


ActiveLoad = tuple[int, str, datetime | None, datetime | None]


def active_loads(conn: psycopg.Connection, source: str, source_key: str) -> list[ActiveLoad]:
    """(load_id, content_sha256, window_start, window_end) of this source and key's live loads."""
    return conn.execute(
        "select load_id, coalesce(content_sha256, ''), window_start, window_end"
        " from raw.measurement_loads"
        " where source = %s and source_key = %s and replaced_by is null",
        (source, source_key),
    ).fetchall()


def replace_loads(
    conn: psycopg.Connection, previous: list[ActiveLoad], result: LoadResult, digest: str
) -> None:
    """Retire earlier loads of the same window, or stop when the content did not change."""
    from integrations.measurements.loader import UnchangedWindow

    if previous and all(sha == digest for _, sha, _, _ in previous):
        raise UnchangedWindow
    conn.execute(
        "update raw.measurement_loads set content_sha256 = %s where load_id = %s",
        (digest, result.load_id),
    )
    for load_id, _, window_start, window_end in previous:
        if window_start is not None:  # the window bounds its rows: prune partitions and blocks
            conn.execute(
                "delete from raw.device_measurements where load_id = %s and ts between %s and %s",
                (load_id, window_start, window_end),
            )
            conn.execute(
                "delete from raw.measurement_load_hours where load_id = %s"
                " and hour_start between date_trunc('hour', %s) and %s",
                (load_id, window_start, window_end),
            )
        conn.execute(
            "update raw.measurement_loads set replaced_by = %s where load_id = %s",
            (result.load_id, load_id),
        )


def analyze_days(conn: psycopg.Connection, days: set[datetime]) -> None:
    """Refresh the statistics of the day partitions a load wrote.

    Queries right after a load (checks, aggregates) otherwise plan for empty tables.
    """
    for day in sorted(days):
        conn.execute(sql.SQL("analyze {}").format(ensure_day_partition(conn, day)))


def finish_load(conn: psycopg.Connection, result: LoadResult) -> None:
    """Store the load's counts and time window."""
    conn.execute(
        "update raw.measurement_loads set rows_total = %s, rows_loaded = %s,"
        " rows_quarantined = %s, rows_duplicate = %s, rows_conflicting = %s,"
        " window_start = %s, window_end = %s where load_id = %s",
        (
            result.rows_total,
            result.rows_loaded,
            result.rows_quarantined,
            result.rows_duplicate,
            result.rows_conflicting,
            result.window_start,
            result.window_end,
            result.load_id,
        ),
    )


def refuse_file(conn: psycopg.Connection, landed: MeasurementFile, reason: str) -> LoadResult:
    """Record a file that cannot be read at all: one quarantine row, nothing loaded."""
    from integrations.measurements.loader import LoadResult

    load_id = begin_load(conn, "file", landed.path.name, landed.content_sha256)
    conn.execute(
        "insert into ops.quarantine (source, source_sha256, source_line, entity, record,"
        " reason_code, reason) values (%s, %s, 1, 'measurements', '{}', 'unreadable_file', %s)"
        " on conflict do nothing",
        (landed.source, landed.content_sha256, reason),
    )
    result = LoadResult(load_id, landed.path.name, rows_quarantined=1)
    result.quarantined_by_reason = {"unreadable_file": 1}
    finish_load(conn, result)
    return result
