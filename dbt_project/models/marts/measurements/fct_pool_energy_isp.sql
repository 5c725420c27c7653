-- Energy per pool and ISP: the devices that are members of the pool at the ISP's start.
-- Devices of sites excluded by the exclusivity rule count, and are flagged apart.
{{ config(pre_hook="{{ delete_partition_window('isp_start') }}") }}

with

device_energy as (
    select * from {{ ref('fct_device_energy_isp') }}
    where {{ in_partition_window('isp_start') }}
),

memberships as (
    select * from {{ ref('fct_device_pool_membership') }}
),

excluded_sites as (
    select * from {{ ref('site_market_status') }}
    where excluded_from_disaggregation
),

flagged as (
    select
        memberships.pool_id,
        device_energy.isp_start,
        device_energy.device_id,
        device_energy.energy_kwh,
        device_energy.coverage,
        excluded_sites.site_id is not null as is_excluded
    from device_energy
    inner join memberships
        on
            device_energy.device_id = memberships.device_id
            and device_energy.isp_start >= memberships.valid_from
            and (memberships.valid_to is null or device_energy.isp_start < memberships.valid_to)
    left join excluded_sites
        on
            memberships.site_id = excluded_sites.site_id
            and device_energy.isp_start >= excluded_sites.valid_from
            and (
                excluded_sites.valid_to is null
                or device_energy.isp_start < excluded_sites.valid_to
            )
)

select
    pool_id,
    isp_start,
    sum(energy_kwh)::numeric(18, 6) as energy_kwh,
    count(*)::integer as devices_reporting,
    round(avg(coverage), 4)::numeric(7, 4) as mean_coverage,
    coalesce(sum(energy_kwh) filter (where is_excluded), 0)::numeric(18, 6)
        as excluded_energy_kwh,
    (count(*) filter (where is_excluded))::integer as devices_excluded
from flagged
group by pool_id, isp_start
