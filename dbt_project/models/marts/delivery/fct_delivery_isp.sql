-- Delivery per activation, pool and ISP (the final revision of each activation), as the latest
-- settlement run of the ISP's day computed it: requested energy, measured and frozen-baseline
-- energy, delivered = the activation direction along (measured - baseline).
with

deliveries as (
    select * from {{ ref('int_deliveries_filtered_to_latest_runs') }}
)

select
    activation_id,
    activation_revision::integer as revision,
    pool_id,
    isp_start,
    direction,
    requested_kwh::numeric(18, 6) as requested_kwh,
    measured_kwh::numeric(18, 6) as measured_kwh,
    baseline_kwh::numeric(18, 6) as baseline_kwh,
    delivered_kwh::numeric(18, 6) as delivered_kwh,
    delivery_ratio::numeric(12, 4) as delivery_ratio,
    shortfall_kwh::numeric(18, 6) as shortfall_kwh,
    coverage::numeric(7, 4) as coverage,
    local_date,
    settlement_id,
    computed_at
from deliveries
