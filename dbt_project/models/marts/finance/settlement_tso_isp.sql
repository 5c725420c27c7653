-- What the TSO pays per pool and ISP, one row per statement version (version 1 the first
-- settlement, later versions the differences a correction brought). A view over the
-- append-only ledger: finance sees a version the moment its run commits.
{{ config(materialized='view') }}

select
    pool_id,
    isp_start,
    market,
    requested_kwh::numeric(18, 6) as requested_kwh,
    delivered_kwh::numeric(18, 6) as delivered_kwh,
    settled_kwh::numeric(18, 6) as settled_kwh,
    price_eur_mwh::numeric(12, 2) as price_eur_mwh,
    price_kind,
    price_source,
    gross_eur::numeric(14, 2) as gross_eur,
    penalty_eur::numeric(14, 2) as penalty_eur,
    revenue_eur::numeric(14, 2) as revenue_eur,
    aggregator_margin_eur::numeric(14, 2) as aggregator_margin_eur,
    currency,
    statement_version::integer as statement_version,
    month,
    created_at
from {{ ref('stg_settlement__tso_rows') }}
