-- What each device earns per ISP, one row per statement version of its customer's month.
{{ config(materialized='view') }}

select
    device_id,
    customer_pseudonym,
    pool_id,
    isp_start,
    contribution_kwh::numeric(18, 6) as contribution_kwh,
    payout_eur::numeric(14, 2) as payout_eur,
    currency,
    statement_version::integer as statement_version,
    month,
    created_at
from {{ ref('stg_settlement__prosumer_rows') }}
