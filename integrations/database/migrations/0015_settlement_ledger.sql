-- The settlement ledger, written by the settlement run of a local day (assets/settlement) and
-- read by the finance models (dbt_project/models/marts/finance). Append-only: a correction is a
-- new statement_version carrying the difference, never an update (docs/finance.md).

-- One row per settlement run of a day, with the digest of everything it read.
create table raw.settlement_runs (
    settlement_id bigint generated always as identity primary key,
    local_date date not null,
    inputs_digest text not null,
    run_id text,
    computed_at timestamptz not null default now(),
    isps_settled integer not null,
    isps_skipped integer not null,
    tso_rows_added integer not null,
    prosumer_rows_added integer not null,
    statements_added integer not null
);
create index on raw.settlement_runs (local_date, inputs_digest);

-- Delivery per activation and ISP as each run computed it (marts.fct_delivery_isp shows the
-- latest run of each day).
create table raw.settlement_delivery_isp (
    settlement_id bigint not null references raw.settlement_runs (settlement_id),
    activation_id text not null,
    revision integer not null,
    pool_id text not null,
    isp_start timestamptz not null,
    direction text not null check (direction in ('up', 'down')),
    requested_kwh numeric(18, 6) not null check (requested_kwh >= 0),
    measured_kwh numeric(18, 6) not null,
    baseline_kwh numeric(18, 6) not null,
    delivered_kwh numeric(18, 6) not null,
    delivery_ratio numeric(12, 4),
    shortfall_kwh numeric(18, 6) not null check (shortfall_kwh >= 0),
    coverage numeric(7, 4) not null,
    primary key (settlement_id, activation_id, isp_start)
);

-- What the TSO pays per pool and ISP; versions numbered per pool and Amsterdam month.
create table raw.settlement_tso_isp (
    pool_id text not null,
    isp_start timestamptz not null,
    statement_version integer not null check (statement_version >= 1),
    month date not null,
    market text not null,
    requested_kwh numeric(18, 6) not null,
    delivered_kwh numeric(18, 6) not null,
    settled_kwh numeric(18, 6) not null,
    price_eur_mwh numeric(12, 2),
    price_kind text not null,
    price_source text not null,
    gross_eur numeric(14, 2) not null,
    penalty_eur numeric(14, 2) not null,
    revenue_eur numeric(14, 2) not null,
    aggregator_margin_eur numeric(14, 2) not null,
    currency text not null default 'EUR' check (currency = 'EUR'),
    settlement_id bigint not null references raw.settlement_runs (settlement_id),
    created_at timestamptz not null,
    primary key (pool_id, isp_start, statement_version),
    check (revenue_eur = gross_eur - penalty_eur)
);
create index on raw.settlement_tso_isp (isp_start);

-- What each device earns per ISP; versions numbered per customer pseudonym and month.
create table raw.settlement_prosumer_isp (
    customer_pseudonym text not null,
    device_id text not null,
    pool_id text not null,
    isp_start timestamptz not null,
    statement_version integer not null check (statement_version >= 1),
    month date not null,
    contribution_kwh numeric(18, 6) not null,
    payout_eur numeric(14, 2) not null,
    currency text not null default 'EUR' check (currency = 'EUR'),
    settlement_id bigint not null references raw.settlement_runs (settlement_id),
    created_at timestamptz not null,
    primary key (customer_pseudonym, month, statement_version, device_id, pool_id, isp_start)
);
create index on raw.settlement_prosumer_isp (isp_start);
create index on raw.settlement_prosumer_isp (pool_id, isp_start);

-- One row per prosumer, month and version: what the version carries and the month after it.
create table raw.prosumer_statements (
    customer_pseudonym text not null,
    month date not null,
    statement_version integer not null check (statement_version >= 1),
    total_eur numeric(14, 2) not null,
    cumulative_total_eur numeric(14, 2) not null,
    currency text not null default 'EUR' check (currency = 'EUR'),
    local_date date not null,
    settlement_id bigint not null references raw.settlement_runs (settlement_id),
    created_at timestamptz not null,
    primary key (customer_pseudonym, month, statement_version)
);

-- Pool-ISPs a run could not settle (yet), with the reason: incomplete samples, a missing price.
create table raw.settlement_skipped (
    settlement_id bigint not null references raw.settlement_runs (settlement_id),
    pool_id text not null,
    isp_start timestamptz not null,
    reason_code text not null,
    reason text not null,
    primary key (settlement_id, pool_id, isp_start)
);
