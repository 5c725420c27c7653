-- Each membership with the market of its pool and the site of its device.
with

memberships as (
    select * from {{ ref('stg_registry__memberships') }}
),

pools as (
    select * from {{ ref('stg_registry__pools') }}
),

devices as (
    select * from {{ ref('stg_registry__devices') }}
),

joined as (
    select
        memberships.device_id,
        memberships.pool_id,
        pools.market,
        devices.site_id,
        memberships.valid_from,
        memberships.valid_to
    from memberships
    inner join pools on memberships.pool_id = pools.pool_id
    inner join devices on memberships.device_id = devices.device_id
)

select * from joined
