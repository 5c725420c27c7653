-- The ISP calendar: one row per 15-minute imbalance settlement period of the local days
-- [isp_calendar_start, isp_calendar_end) in Europe/Amsterdam (92, 96 or 100 ISPs a day).
-- Every conversion names its time zone, so the session TimeZone does not matter: the series
-- runs over UTC instants, and 15 minutes is an absolute step (no calendar arithmetic).
with

bounds as (
    select
        '{{ var("isp_calendar_start", "2024-01-01") }}'::date::timestamp
        at time zone 'Europe/Amsterdam' as calendar_start,
        '{{ var("isp_calendar_end", "2031-01-01") }}'::date::timestamp
        at time zone 'Europe/Amsterdam' as calendar_end
),

instants as (
    select series.isp_start
    from bounds
    cross join lateral generate_series(
        bounds.calendar_start,
        bounds.calendar_end - interval '15 minutes',
        interval '15 minutes'
    ) as series (isp_start)
),

localised as (
    select
        isp_start,
        isp_start + interval '15 minutes' as isp_end,
        isp_start at time zone 'Europe/Amsterdam' as local_start,
        (isp_start at time zone 'Europe/Amsterdam')::date as local_date,
        (
            extract(
                epoch from (isp_start at time zone 'Europe/Amsterdam')
                - (isp_start at time zone 'UTC')
            ) / 60
        )::integer as utc_offset_minutes
    from instants
),

numbered as (
    select
        isp_start,
        isp_end,
        local_date,
        utc_offset_minutes,
        (row_number() over (partition by local_date order by isp_start))::integer as isp_number,
        (count(*) over (partition by local_date))::integer as isps_in_day,
        -- e.g. '02:15+02'; Amsterdam's offsets are whole hours, others would show as '+hh:mm'
        to_char(local_start, 'HH24:MI')
        || case when utc_offset_minutes < 0 then '-' else '+' end
        || lpad((abs(utc_offset_minutes) / 60)::text, 2, '0')
        || case
            when abs(utc_offset_minutes) % 60 = 0 then ''
            else ':' || lpad((abs(utc_offset_minutes) % 60)::text, 2, '0')
        end as local_start_time
    from localised
)

select
    isp_start,
    isp_end,
    local_date,
    isp_number,
    isps_in_day,
    local_start_time,
    utc_offset_minutes
from numbered
