-- Cut each site's timeline at every membership boundary of its devices. Within one segment the
-- set of memberships (and so of markets) is constant; segments no membership covers are dropped.
with

memberships as (
    select * from {{ ref('int_memberships_joined_to_markets') }}
),

boundaries as (
    select
        site_id,
        valid_from as boundary_at
    from memberships
    union
    select
        site_id,
        valid_to as boundary_at
    from memberships
    where valid_to is not null
),

segments as (
    select
        site_id,
        boundary_at as valid_from,
        lead(boundary_at) over (partition by site_id order by boundary_at) as valid_to
    from boundaries
),

covered as (
    select
        segments.site_id,
        segments.valid_from,
        segments.valid_to,
        array_agg(distinct memberships.market order by memberships.market) as markets,
        array_agg(distinct memberships.device_id order by memberships.device_id) as device_ids,
        array_agg(distinct memberships.pool_id order by memberships.pool_id) as pool_ids,
        jsonb_agg(
            jsonb_build_object(
                'device_id', memberships.device_id,
                'pool_id', memberships.pool_id,
                'market', memberships.market
            )
            order by memberships.device_id, memberships.pool_id
        ) as memberships
    from segments
    inner join memberships
        on
            segments.site_id = memberships.site_id
            and segments.valid_from >= memberships.valid_from
            and (
                memberships.valid_to is null
                or (segments.valid_to is not null and segments.valid_to <= memberships.valid_to)
            )
    group by segments.site_id, segments.valid_from, segments.valid_to
)

select
    *,
    cardinality(markets) <= 1 as is_exclusive
from covered
