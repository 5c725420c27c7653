-- Monthly statements per prosumer (by pseudonym), one row per version: total_eur is what the
-- version carries (the month so far in version 1, then each day's addition or correction),
-- cumulative_total_eur the month's total after it.
{{ config(materialized='view') }}

select
    customer_pseudonym,
    month,
    statement_version::integer as statement_version,
    total_eur::numeric(14, 2) as total_eur,
    cumulative_total_eur::numeric(14, 2) as cumulative_total_eur,
    created_at,
    currency,
    settlement_date
from {{ ref('stg_settlement__statements') }}
