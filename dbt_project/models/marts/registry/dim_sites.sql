with

sites as (
    select * from {{ ref('stg_registry__sites') }}
),

locations as (
    select * from {{ ref('stg_registry__locations') }}
),

devices as (
    select
        site_id,
        count(*) as device_count
    from {{ ref('stg_registry__devices') }}
    group by site_id
)

select
    sites.site_id,
    sites.location_id,
    sites.ean,
    locations.customer_id,
    sites.updated_at,
    coalesce(devices.device_count, 0)::integer as device_count
from sites
inner join locations on sites.location_id = locations.location_id
left join devices on sites.site_id = devices.site_id
