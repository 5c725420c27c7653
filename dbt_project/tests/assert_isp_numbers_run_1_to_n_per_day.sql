-- ISPs of dim_isp that break the numbering: a number outside 1..isps_in_day, a start that is
-- not local midnight + (number - 1) quarter-hours, or a day whose numbers do not run 1..N
-- without gap or repeat, or whose N is not 92, 96 or 100.
with

isps as (
    select * from {{ ref('dim_isp') }}
),

days as (
    select
        local_date,
        count(*) as isp_rows,
        count(distinct isp_number) as distinct_numbers,
        min(isp_number) as first_number,
        max(isp_number) as last_number,
        min(isps_in_day) as min_isps_in_day,
        max(isps_in_day) as max_isps_in_day
    from isps
    group by local_date
)

select
    isps.local_date,
    isps.isp_start,
    isps.isp_number,
    isps.isps_in_day
from isps
inner join days on isps.local_date = days.local_date
where
    isps.isp_number not between 1 and isps.isps_in_day
    or isps.isp_start
    != (isps.local_date::timestamp at time zone 'Europe/Amsterdam')
    + (isps.isp_number - 1) * interval '15 minutes'
    or days.min_isps_in_day != days.max_isps_in_day
    or days.max_isps_in_day not in (92, 96, 100)
    or days.isp_rows != days.max_isps_in_day
    or days.distinct_numbers != days.isp_rows
    or days.first_number != 1
    or days.last_number != days.isp_rows
