-- Bidding: the price-ladder input per computation, and every bid revision sent to the TSO.

-- The safe cumulative flexibility per pool, ISP, direction and strike level (devices with an
-- effective strike price <= strike_price_eur_mwh together give at least cumulative_mw), from
-- the same computation as raw.pool_flex_isp (same computed_at); the top level of each pool,
-- ISP and direction equals that row's up_mw / down_mw.
create table raw.pool_flex_ladder (
    pool_id text not null,
    isp_start timestamptz not null,
    direction text not null check (direction in ('up', 'down')),
    strike_price_eur_mwh numeric(12, 2) not null,
    cumulative_mw numeric(12, 3) not null check (cumulative_mw >= 0),
    computed_at timestamptz not null,
    primary key (pool_id, isp_start, direction, strike_price_eur_mwh, computed_at)
);
create index on raw.pool_flex_ladder (isp_start);

-- One row per bid revision placed in a ReserveBid document (document_mrid, document_revision
-- point at its row in ops.tso_submissions, which holds the TSO's acknowledgement). A bid's
-- mRID names one ladder step of one pool, market, ISP and direction and stays the same over
-- its revisions; quantity 0 cancels it.
create table raw.bids (
    bid_mrid text not null,
    revision integer not null check (revision between 1 and 999),
    document_mrid text not null,
    document_revision integer not null,
    pool_id text not null,
    market text not null,
    isp_start timestamptz not null,
    direction text not null check (direction in ('up', 'down')),
    step integer not null check (step between 1 and 999),
    quantity_mw integer not null check (quantity_mw between 0 and 999),
    price_eur_mwh numeric(12, 2) not null,
    gate_closes_at timestamptz not null check (gate_closes_at < isp_start),
    flex_computed_at timestamptz not null,
    planned_at timestamptz not null,
    run_id text,
    primary key (bid_mrid, revision),
    foreign key (document_mrid, document_revision)
        references ops.tso_submissions (document_mrid, revision)
);
create index on raw.bids (pool_id, market, isp_start);
create index on raw.bids (document_mrid, document_revision);
