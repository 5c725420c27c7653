-- Per site, maximal unbroken periods with the same set of markets. A site whose pooled devices
-- are on more than one market is not exclusive and is left out of disaggregation meanwhile.
with

segments as (
    select * from {{ ref('int_site_membership_segments') }}
),

flagged as (
    select
        *,
        case
            when
                lag(valid_to) over (partition by site_id order by valid_from) = valid_from
                and lag(markets) over (partition by site_id order by valid_from) = markets
                then 0
            else 1
        end as starts_period
    from segments
),

numbered as (
    select
        *,
        sum(starts_period) over (
            partition by site_id order by valid_from rows unbounded preceding
        ) as period_number
    from flagged
),

periods as (
    select
        site_id,
        min(valid_from) as valid_from,
        case when bool_or(valid_to is null) then null else max(valid_to) end as valid_to,
        min(markets) as markets,
        bool_and(is_exclusive) as is_exclusive
    from numbered
    group by site_id, period_number
)

select
    site_id,
    valid_from,
    valid_to,
    markets,
    is_exclusive,
    not is_exclusive as excluded_from_disaggregation
from periods
