with

source as (
    select * from {{ source('settlement', 'settlement_runs') }}
),

renamed as (
    select
        -- ids
        settlement_id,
        local_date,

        -- what it read and wrote
        inputs_digest,
        isps_settled,
        isps_skipped,
        tso_rows_added,
        prosumer_rows_added,
        statements_added,

        -- lineage
        run_id,
        computed_at
    from source
)

select * from renamed
