-- Energy per device and ISP from the binned held readings: every grid step (4 s, 60 s or the
-- ISP itself, on a UTC grid from 2000-01-01) lies inside one ISP, and ISP bounds are quarter
-- hours in UTC (Amsterdam's offsets are whole hours), so date_bin finds the ISP without a join
-- to dim_isp.
{{ config(pre_hook="{{ delete_partition_window('isp_start') }}") }}

with

binned as (
    select * from {{ ref('int_device_readings_binned') }}
    where {{ in_partition_window('bucket_start') }}
),

energy as (
    select
        device_id,
        date_bin('15 minutes', bucket_start, '2000-01-01 00:00+00'::timestamptz) as isp_start,
        sum(energy_ws) / 3600000.0 as energy_kwh,
        sum(held_seconds) / 900.0 as coverage
    from binned
    group by 1, 2
)

select
    device_id,
    isp_start,
    round(energy_kwh::numeric, 6)::numeric(18, 6) as energy_kwh,
    round(coverage::numeric, 4)::numeric(7, 4) as coverage
from energy
