with

locations as (
    select * from {{ ref('stg_registry__locations') }}
),

sites as (
    select
        location_id,
        count(*) as site_count
    from {{ ref('stg_registry__sites') }}
    group by location_id
)

select
    locations.location_id,
    locations.customer_id,
    locations.ean,
    locations.updated_at,
    coalesce(sites.site_count, 0)::integer as site_count
from locations
left join sites on locations.location_id = sites.location_id
