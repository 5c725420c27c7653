-- Pool baselines as issued: one row per pool, issue minute and horizon. Never revised: a
-- re-run inserts nothing where a row exists (insert ... on conflict do nothing), so what the
-- TSO received stays what the table holds. cutoff_ts is the newest data the forecast could use
-- (issued_at, or the activation start when frozen).
create table raw.pool_baselines (
    pool_id text not null,
    issued_at timestamptz not null,
    horizon_min smallint not null check (horizon_min in (1, 5, 10)),
    target_ts timestamptz not null,
    method text not null,
    baseline_mw numeric(18, 6),
    frozen boolean not null default false,
    cutoff_ts timestamptz not null,
    run_id text,
    inserted_at timestamptz not null default now(),
    primary key (pool_id, issued_at, horizon_min),
    check (target_ts = issued_at + make_interval(mins => horizon_min))
);
create index on raw.pool_baselines (target_ts);

-- Every backtest: accuracy per pool, method and horizon over the history it read, and the
-- method it chose per pool and horizon. The newest backtest_id is the one in force.
create sequence raw.baseline_backtest_ids;
create table raw.baseline_backtests (
    backtest_id bigint not null,
    computed_at timestamptz not null default now(),
    history_start timestamptz not null,
    history_end timestamptz not null,
    test_days integer not null,
    pool_id text not null,
    method text not null,
    horizon_min smallint not null,
    mae_mw double precision,
    rmse_mw double precision,
    bias_mw double precision,
    nmae_pct double precision,
    n integer not null,
    chosen boolean not null,
    run_id text,
    primary key (backtest_id, pool_id, method, horizon_min)
);

-- Activations received from the TSO (filled by the activation intake): the windows during
-- which a pool's baseline is frozen at the activation start.
create table raw.tso_activations (
    activation_id text not null,
    revision integer not null,
    pool_id text not null,
    market text not null,
    requested_mw numeric(12, 3) not null,
    valid_from timestamptz not null,
    valid_to timestamptz not null check (valid_to > valid_from),
    received_at timestamptz not null default now(),
    document_sha256 text,
    primary key (activation_id, revision)
);
create index on raw.tso_activations (pool_id, valid_from);
