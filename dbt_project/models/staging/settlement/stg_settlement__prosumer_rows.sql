with

source as (
    select * from {{ source('settlement', 'settlement_prosumer_isp') }}
),

renamed as (
    select
        -- ids
        device_id,
        customer_pseudonym,
        pool_id,
        isp_start,
        statement_version,
        month,

        -- contribution (kWh) and payout (EUR)
        contribution_kwh,
        payout_eur,
        currency,

        -- lineage
        settlement_id,
        created_at
    from source
)

select * from renamed
