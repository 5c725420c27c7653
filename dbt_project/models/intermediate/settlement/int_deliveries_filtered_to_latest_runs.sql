-- Delivery as the latest settlement run of each local day computed it: an activation revised
-- or a correction re-run replaces the day's delivery rows, the earlier runs' rows stay in raw.
with

runs as (
    select * from {{ ref('stg_settlement__runs') }}
),

latest_runs as (
    select distinct on (local_date)
        settlement_id,
        local_date,
        computed_at
    from runs
    order by local_date asc, settlement_id desc
),

deliveries as (
    select * from {{ ref('stg_settlement__deliveries') }}
)

select
    deliveries.settlement_id,
    deliveries.activation_id,
    deliveries.activation_revision,
    deliveries.pool_id,
    deliveries.isp_start,
    deliveries.direction,
    deliveries.requested_kwh,
    deliveries.measured_kwh,
    deliveries.baseline_kwh,
    deliveries.delivered_kwh,
    deliveries.delivery_ratio,
    deliveries.shortfall_kwh,
    deliveries.coverage,
    latest_runs.local_date,
    latest_runs.computed_at
from deliveries
inner join latest_runs on deliveries.settlement_id = latest_runs.settlement_id
