-- Available flexibility per pool and ISP as computed ahead of the ISP's gate: the safe upward
-- and downward MW (magnitudes, never negative) from the device states read at states_at.
-- Every computation is kept (computed_at is part of the key); marts.fct_pool_flex_isp shows
-- the latest per pool and ISP.
create table raw.pool_flex_isp (
    pool_id text not null,
    isp_start timestamptz not null,
    up_mw numeric(12, 3) not null check (up_mw >= 0),
    down_mw numeric(12, 3) not null check (down_mw >= 0),
    method text not null,
    states_at timestamptz not null check (states_at <= isp_start),
    computed_at timestamptz not null,
    run_id text,
    primary key (pool_id, isp_start, computed_at)
);
create index on raw.pool_flex_isp (isp_start);
