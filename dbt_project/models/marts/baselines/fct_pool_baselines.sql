-- A view: baselines are immutable once issued (the raw table's primary key and
-- "on conflict do nothing" guarantee it), so a copy would only cost time and space.
{{ config(materialized='view') }}

select
    pool_id,
    issued_at,
    target_ts,
    horizon_min::integer as horizon_min,
    method,
    baseline_mw,
    frozen,
    cutoff_ts
from {{ ref('stg_baselines__pool_baselines') }}
