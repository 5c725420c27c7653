with

source as (
    select * from {{ source('baselines', 'pool_baselines') }}
),

renamed as (
    select
        -- ids
        pool_id,
        issued_at,
        horizon_min,

        -- the forecast
        target_ts,
        method,
        baseline_mw,

        -- the data it could use
        frozen,
        cutoff_ts,

        -- lineage
        run_id,
        inserted_at
    from source
)

select * from renamed
