-- The latest computation per pool and ISP. A view: the raw table keeps every computation and
-- only grows, so a copy would only cost time, and the view always shows the newest one.
{{ config(materialized='view') }}

with

computations as (
    select * from {{ ref('stg_bidding__pool_flex_isp') }}
),

latest as (
    select distinct on (pool_id, isp_start)
        pool_id,
        isp_start,
        up_mw,
        down_mw,
        method,
        computed_at,
        states_at
    from computations
    order by pool_id asc, isp_start asc, computed_at desc
)

select * from latest
