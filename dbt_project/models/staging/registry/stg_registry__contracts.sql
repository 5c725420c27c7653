with

source as (
    {{ latest_versions(source('registry', 'registry_contracts'), ['customer_id', 'valid_from']) }}
),

renamed as (
    select
        -- ids
        customer_id,

        -- terms
        revenue_share_pct::numeric(5, 2) as revenue_share_pct,
        fee_eur_per_activation::numeric(12, 4) as fee_eur_per_activation,

        -- validity, half-open [valid_from, valid_to); null valid_to = open
        valid_from,
        valid_to,

        -- lineage
        file_id as registry_file_id,
        received_at as updated_at
    from source
)

select * from renamed
