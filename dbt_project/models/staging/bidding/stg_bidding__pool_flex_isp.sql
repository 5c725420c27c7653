with

source as (
    select * from {{ source('bidding', 'pool_flex_isp') }}
),

renamed as (
    select
        -- ids
        pool_id,
        isp_start,
        computed_at,

        -- the flexibility (MW, magnitudes)
        up_mw,
        down_mw,
        method,

        -- what it was computed from
        states_at,

        -- lineage
        run_id
    from source
)

select * from renamed
