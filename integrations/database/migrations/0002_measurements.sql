-- Device measurements: every accepted reading, partitioned by day (UTC) on ts. A reading is
-- stored once per (device_id, ts): equal duplicates are dropped at load, conflicting ones keep
-- the latest received and are recorded in ops.measurement_conflicts. Offtake positive (W).
-- load_id and received_at come from defaults set per loading transaction (set_config), so a
-- COPY sends only the three measured columns.
create table raw.device_measurements (
    device_id text not null,
    ts timestamptz not null,
    power_w double precision not null,
    received_at timestamptz not null default now(),
    load_id bigint not null default (current_setting('vppal.load_id'))::bigint
) partition by range (ts);

-- Every load into raw.device_measurements: a landed file (once per content hash) or one
-- device-cloud window. Its rows carry its load_id, so a load can be replaced as a whole.
create table raw.measurement_loads (
    load_id bigserial primary key,
    source text not null,
    source_key text not null,
    content_sha256 text,
    window_start timestamptz,
    window_end timestamptz,
    rows_total bigint not null default 0,
    rows_loaded bigint not null default 0,
    rows_quarantined bigint not null default 0,
    rows_duplicate bigint not null default 0,
    rows_conflicting bigint not null default 0,
    loaded_at timestamptz not null default now(),
    replaced_by bigint references raw.measurement_loads
);
create unique index on raw.measurement_loads (source, source_key, content_sha256)
    where replaced_by is null;

-- Duplicate readings that disagreed: the value kept (latest received) and the one dropped.
create table ops.measurement_conflicts (
    device_id text not null,
    ts timestamptz not null,
    kept_power_w double precision not null,
    kept_load_id bigint not null,
    dropped_power_w double precision not null,
    dropped_load_id bigint not null,
    recorded_at timestamptz not null default now()
);
create index on ops.measurement_conflicts (ts);

-- Time-range scans (an hour, a day) prune partitions and then skip blocks by BRIN.
create index on raw.device_measurements using brin (ts) with (pages_per_range = 32);
