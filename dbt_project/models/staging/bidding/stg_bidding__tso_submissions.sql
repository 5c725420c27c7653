with

source as (
    select * from {{ source('tso_documents', 'tso_submissions') }}
),

renamed as (
    select
        -- ids
        document_mrid,
        revision,
        document_kind,
        pool_id,

        -- what it covers
        period_start,
        period_end,

        -- its way to the TSO
        created_at,
        submitted_at,
        attempts,
        ack_status,
        ack_reason_code,
        ack_reason,
        acknowledged_at
    from source
)

select * from renamed
