with

pools as (
    select * from {{ ref('stg_registry__pools') }}
),

open_memberships as (
    select
        pool_id,
        count(*) as open_member_count
    from {{ ref('stg_registry__memberships') }}
    where valid_to is null
    group by pool_id
)

select
    pools.pool_id,
    pools.market,
    pools.pool_name,
    pools.updated_at,
    coalesce(open_memberships.open_member_count, 0)::integer as open_member_count
from pools
left join open_memberships on pools.pool_id = open_memberships.pool_id
