-- Each reading holds its power until the device's next reading, for at most 15 minutes (the
-- coarsest native resolution, household meters). Readings just outside the window are read
-- too, so holds crossing the window edges are complete. Ephemeral: the window comes from the
-- vars, and int_device_readings_binned is its one reader (the one sort of the window).
with

readings as (
    select
        device_id,
        ts,
        power_w
    from {{ ref('stg_measurements__device_readings') }}
    where {{ in_partition_window('ts', before='15 minutes', after='15 minutes') }}
),

held as (
    select
        device_id,
        power_w,
        ts as hold_from,
        -- least() skips the null of a device's last reading
        least(
            lead(ts) over (partition by device_id order by ts),
            ts + interval '15 minutes'
        ) as hold_to
    from readings
)

select * from held
