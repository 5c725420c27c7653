with

source as (
    select * from {{ source('settlement', 'settlement_tso_isp') }}
),

renamed as (
    select
        -- ids
        pool_id,
        isp_start,
        statement_version,
        month,

        -- the market and the price applied
        market,
        price_eur_mwh,
        price_kind,
        price_source,
        currency,

        -- energies (kWh)
        requested_kwh,
        delivered_kwh,
        settled_kwh,

        -- money (EUR)
        gross_eur,
        penalty_eur,
        revenue_eur,
        aggregator_margin_eur,

        -- lineage
        settlement_id,
        created_at
    from source
)

select * from renamed
