-- Energy per device and ISP from the held readings. A hold lasts at most 15 minutes, so it
-- lies in at most two ISPs; ISP bounds are quarter hours in UTC (Amsterdam's offsets are whole
-- hours), so date_bin finds them without a join to dim_isp.
{{ config(pre_hook="{{ delete_partition_window('isp_start') }}") }}

with

held as (
    select * from {{ ref('int_device_readings_held') }}
),

binned as (
    select
        *,
        date_bin('15 minutes', hold_from, '2000-01-01 00:00+00'::timestamptz) as first_isp
    from held
),

pieces as (
    select
        binned.device_id,
        binned.power_w,
        piece.isp_start,
        piece.piece_from,
        piece.piece_to
    from binned
    cross join
        lateral (
            values
            (
                binned.first_isp,
                binned.hold_from,
                least(binned.hold_to, binned.first_isp + interval '15 minutes')
            ),
            (
                binned.first_isp + interval '15 minutes',
                binned.first_isp + interval '15 minutes',
                binned.hold_to
            )
        ) as piece (isp_start, piece_from, piece_to)
    where piece.piece_to > piece.piece_from
),

energy as (
    select
        device_id,
        isp_start,
        sum(power_w * extract(epoch from piece_to - piece_from)) / 3600000.0 as energy_kwh,
        sum(extract(epoch from piece_to - piece_from)) / 900.0 as coverage
    from pieces
    where {{ in_partition_window('isp_start') }}
    group by device_id, isp_start
)

select
    device_id,
    isp_start,
    round(energy_kwh::numeric, 6)::numeric(18, 6) as energy_kwh,
    round(coverage::numeric, 4)::numeric(7, 4) as coverage
from energy
