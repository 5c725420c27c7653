-- Pool power on a time grid: 4 s for pools on aFRR (the TSO checks aFRR delivery at that
-- resolution), 1 minute otherwise. Per device, the time-weighted mean of its held readings in
-- the grid step; per pool, the sum over devices that are members at that instant.
{{ config(pre_hook="{{ delete_partition_window('ts') }}") }}

with

held as (
    select * from {{ ref('int_device_readings_held') }}
),

memberships as (
    select
        *,
        case when market = 'afrr' then 4 else 60 end as step_seconds
    from {{ ref('fct_device_pool_membership') }}
),

excluded_sites as (
    select * from {{ ref('site_market_status') }}
    where excluded_from_disaggregation
),

member_holds as (
    select
        held.device_id,
        held.power_w,
        held.hold_from,
        held.hold_to,
        memberships.pool_id,
        memberships.site_id,
        make_interval(secs => memberships.step_seconds) as step
    from held
    inner join memberships
        on
            held.device_id = memberships.device_id
            and held.hold_from >= memberships.valid_from
            and (memberships.valid_to is null or held.hold_from < memberships.valid_to)
),

pieces as (
    select
        member_holds.pool_id,
        member_holds.site_id,
        member_holds.device_id,
        member_holds.power_w,
        member_holds.step,
        grid.bucket,
        extract(
            epoch from least(member_holds.hold_to, grid.bucket + member_holds.step)
            - greatest(member_holds.hold_from, grid.bucket)
        ) as overlap_seconds
    from member_holds
    cross join lateral generate_series(
        date_bin(member_holds.step, member_holds.hold_from, '2000-01-01 00:00+00'::timestamptz),
        member_holds.hold_to - interval '1 microsecond',
        member_holds.step
    ) as grid (bucket)
),

per_device as (
    select
        pool_id,
        site_id,
        device_id,
        bucket,
        step,
        sum(power_w * overlap_seconds) / sum(overlap_seconds) as power_w
    from pieces
    where {{ in_partition_window('bucket') }}
    group by pool_id, site_id, device_id, bucket, step
),

flagged as (
    select
        per_device.*,
        excluded_sites.site_id is not null as is_excluded
    from per_device
    left join excluded_sites
        on
            per_device.site_id = excluded_sites.site_id
            and per_device.bucket >= excluded_sites.valid_from
            and (excluded_sites.valid_to is null or per_device.bucket < excluded_sites.valid_to)
)

select
    pool_id,
    bucket as ts,
    extract(epoch from step)::integer as resolution_seconds,
    round((sum(power_w) / 1e6)::numeric, 6)::numeric(18, 6) as power_mw,
    count(*)::integer as devices_reporting,
    round((coalesce(sum(power_w) filter (where is_excluded), 0) / 1e6)::numeric, 6)::numeric(18, 6)
        as excluded_power_mw,
    (count(*) filter (where is_excluded))::integer as devices_excluded
from flagged
group by pool_id, bucket, step
