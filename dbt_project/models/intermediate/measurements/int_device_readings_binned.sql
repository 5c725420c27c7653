-- The held readings per device and grid step (macro binned_device_readings), built in two
-- halves of the devices so both cores work on the window's one sort. Ephemeral: the marts read
-- the two tables through it.
with

even_devices as (
    select
        device_id,
        bucket_start,
        pool_id,
        site_id,
        step_seconds,
        energy_ws,
        held_seconds,
        built_at
    from {{ ref('int_device_readings_binned_even') }}
),

odd_devices as (
    select
        device_id,
        bucket_start,
        pool_id,
        site_id,
        step_seconds,
        energy_ws,
        held_seconds,
        built_at
    from {{ ref('int_device_readings_binned_odd') }}
)

select * from even_devices
union all
select * from odd_devices
