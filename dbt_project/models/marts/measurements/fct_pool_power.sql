-- Pool power on a time grid: 4 s for pools on aFRR (the TSO checks aFRR delivery at that
-- resolution), 1 minute otherwise. Per device, the time-weighted mean of its held readings in
-- the grid step (int_device_readings_binned: energy over held seconds); per pool, the sum over
-- the devices that were members at the start of their holds. One aggregation per pool and step.
{{ config(pre_hook="{{ delete_partition_window('ts') }}") }}

with

binned as (
    select * from {{ ref('int_device_readings_binned') }}
    where
        pool_id is not null
        and {{ in_partition_window('bucket_start') }}
),

excluded_sites as (
    select * from {{ ref('site_market_status') }}
    where excluded_from_disaggregation
),

flagged as (
    select
        binned.pool_id,
        binned.bucket_start,
        binned.step_seconds,
        binned.energy_ws / binned.held_seconds as power_w,
        excluded_sites.site_id is not null as is_excluded
    from binned
    left join excluded_sites
        on
            binned.site_id = excluded_sites.site_id
            and binned.bucket_start >= excluded_sites.valid_from
            and (
                excluded_sites.valid_to is null
                or binned.bucket_start < excluded_sites.valid_to
            )
)

select
    pool_id,
    bucket_start as ts,
    step_seconds as resolution_seconds,
    round((sum(power_w) / 1e6)::numeric, 6)::numeric(18, 6) as power_mw,
    count(*)::integer as devices_reporting,
    round((coalesce(sum(power_w) filter (where is_excluded), 0) / 1e6)::numeric, 6)::numeric(18, 6)
        as excluded_power_mw,
    (count(*) filter (where is_excluded))::integer as devices_excluded
from flagged
group by pool_id, bucket_start, step_seconds
