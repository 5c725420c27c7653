with

source as (
    select * from {{ source('dispatch', 'dispatch_runs') }}
),

renamed as (
    select
        -- ids
        activation_id,
        revision,
        pool_id,

        -- the plan
        direction,
        requested_kw,
        planned_kw,
        accepted_kw,
        shortfall_kw,
        setpoints_sent_at,

        -- the answer to the TSO
        responded_at,
        response,
        response_reason,
        response_mrid,

        -- lineage
        run_id
    from source
)

select * from renamed
