-- A conflict is a maximal unbroken period in which a site's pooled devices sit on more than one
-- market. Its segments are merged; the details list every market, device and pool involved.
with

segments as (
    select * from {{ ref('int_site_membership_segments') }}
    where not is_exclusive
),

flagged as (
    select
        *,
        case
            when
                lag(valid_to) over (partition by site_id order by valid_from) = valid_from
                then 0
            else 1
        end as starts_conflict
    from segments
),

numbered as (
    select
        *,
        sum(starts_conflict) over (
            partition by site_id order by valid_from rows unbounded preceding
        ) as conflict_number
    from flagged
),

memberships as (
    select distinct
        numbered.site_id,
        numbered.conflict_number,
        membership.value as membership
    from numbered
    cross join lateral jsonb_array_elements(numbered.memberships) as membership (value)
),

conflicts as (
    select
        site_id,
        conflict_number,
        min(valid_from) as conflict_from,
        case when bool_or(valid_to is null) then null else max(valid_to) end as conflict_to
    from numbered
    group by site_id, conflict_number
),

details as (
    select
        site_id,
        conflict_number,
        array_agg(distinct membership ->> 'market' order by membership ->> 'market') as markets,
        array_agg(distinct membership ->> 'device_id' order by membership ->> 'device_id')
            as device_ids,
        array_agg(distinct membership ->> 'pool_id' order by membership ->> 'pool_id') as pool_ids,
        jsonb_agg(
            membership order by membership ->> 'device_id', membership ->> 'pool_id'
        ) as memberships
    from memberships
    group by site_id, conflict_number
)

select
    conflicts.site_id,
    conflicts.conflict_from,
    conflicts.conflict_to,
    details.markets,
    details.device_ids,
    details.pool_ids,
    details.memberships
from conflicts
inner join details
    on
        conflicts.site_id = details.site_id
        and conflicts.conflict_number = details.conflict_number
