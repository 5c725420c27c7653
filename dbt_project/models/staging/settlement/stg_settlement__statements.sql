with

source as (
    select * from {{ source('settlement', 'prosumer_statements') }}
),

renamed as (
    select
        -- ids
        customer_pseudonym,
        month,
        statement_version,

        -- amounts (EUR)
        total_eur,
        cumulative_total_eur,
        currency,

        -- lineage
        local_date as settlement_date,
        settlement_id,
        created_at
    from source
)

select * from renamed
