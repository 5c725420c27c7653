with

source as (
    select * from {{ source('dispatch', 'tso_activations') }}
),

renamed as (
    select
        -- ids
        activation_id,
        revision,
        pool_id,
        market,

        -- the request
        direction,
        requested_mw,
        valid_from,
        valid_to,

        -- its way in
        received_at,
        acknowledged_at,
        acknowledgement_mrid,
        document_sha256
    from source
)

select * from renamed
