{#- The held readings of one half of the devices (hashtext(device_id) & 1 = half), cut at the
    partition window and at the steps of a grid: 4 s while the device is in an aFRR pool, 60 s
    in another pool, the 15-minute ISP otherwise (membership at the start of the hold, as the
    pool marts count it). Per device and step: the watt-seconds held and the seconds covered.
    Every step lies inside one ISP, so the marts get energy per ISP and pool power per grid
    step from these rows without sorting the readings again.

    Two models, int_device_readings_binned_even and _odd, call it: dbt's two threads build them
    at once, so the window's one sort by device and time (and what follows it, all per device)
    runs on both cores. Derived data, rebuilt per window: unlogged (no WAL), rows kept for a day
    after their build; analyzed, so the marts that read the window just built plan for it. -#}
{% macro binned_device_readings(half) -%}
{{ config(
    materialized='incremental',
    unlogged=true,
    pre_hook=[
        "{{ delete_partition_window('bucket_start') }}",
        "{% if is_incremental() %}delete from {{ this }}"
        ~ " where built_at < now() - interval '1 day'{% else %}select 1{% endif %}",
    ],
    post_hook=[
        "create index if not exists {{ this.identifier }}_bucket_start on {{ this }}"
        ~ " using brin (bucket_start)",
        "create index if not exists {{ this.identifier }}_built_at on {{ this }}"
        ~ " using brin (built_at)",
        "analyze {{ this }}",
    ],
) }}
{%- if var('min_ts', none) is not none and var('max_ts', none) is not none %}
    {%- set window_start = "'" ~ var('min_ts') ~ "'::timestamptz" %}
    {%- set window_end = "'" ~ var('max_ts') ~ "'::timestamptz" %}
{%- else %}
    {%- set window_start = "'-infinity'::timestamptz" %}
    {%- set window_end = "'infinity'::timestamptz" %}
{%- endif %}

with

held as (
    select * from {{ ref('int_device_readings_held') }}
    -- a filter on the window's partition key: applied to the readings before they are sorted
    where (hashtext(device_id) & 1) = {{ half }}
),

memberships as (
    select
        device_id,
        pool_id,
        site_id,
        valid_from,
        valid_to,
        case when market = 'afrr' then interval '4 seconds' else interval '1 minute' end as step
    from {{ ref('fct_device_pool_membership') }}
),

windowed as (
    -- holds cut to the window, on the grid of the device's pool at the start of the hold
    select
        held.device_id,
        held.power_w,
        memberships.pool_id,
        memberships.site_id,
        greatest(held.hold_from, {{ window_start }}) as piece_from,
        least(held.hold_to, {{ window_end }}) as piece_to,
        coalesce(memberships.step, interval '15 minutes') as step
    from held
    left join memberships
        on
            held.device_id = memberships.device_id
            and held.hold_from >= memberships.valid_from
            and (memberships.valid_to is null or held.hold_from < memberships.valid_to)
    where
        held.hold_to > {{ window_start }}
        and held.hold_from < {{ window_end }}
        and held.hold_to > held.hold_from
),

pieces as (
    -- one row per grid step a hold touches (a set-returning function in the select list)
    select
        device_id,
        power_w,
        pool_id,
        site_id,
        step,
        piece_from,
        piece_to,
        generate_series(
            date_bin(step, piece_from, '2000-01-01 00:00+00'::timestamptz),
            piece_to - interval '1 microsecond',
            step
        ) as bucket_start
    from windowed
),

piece_seconds as (
    select
        device_id,
        pool_id,
        site_id,
        step,
        bucket_start,
        power_w,
        date_part(
            'epoch', least(piece_to, bucket_start + step) - greatest(piece_from, bucket_start)
        ) as held_seconds
    from pieces
)

select
    device_id,
    bucket_start,
    pool_id,
    site_id,
    date_part('epoch', step)::integer as step_seconds,
    sum(power_w * held_seconds) as energy_ws,
    sum(held_seconds) as held_seconds,
    now() as built_at
from piece_seconds
group by device_id, bucket_start, pool_id, site_id, step
{%- endmacro %}
