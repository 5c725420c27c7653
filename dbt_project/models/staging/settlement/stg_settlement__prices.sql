with

source as (
    select distinct on (source, isp_start) *
    from {{ source('settlement', 'settlement_prices') }}
    order by source asc, isp_start asc, file_id desc
),

renamed as (
    select
        -- ids
        isp_start,
        source as price_source,

        -- the ISP's local day
        local_date,

        -- prices (EUR/MWh); an empty dispatch price means nothing was activated that way
        price_dispatch_up_eur_mwh,
        price_dispatch_down_eur_mwh,
        price_shortage_eur_mwh,
        price_surplus_eur_mwh,
        currency,

        -- incident reserve flags
        incident_reserve_up,
        incident_reserve_down,

        -- lineage
        file_id as price_file_id,
        received_at,

        -- numbers typed, and the market state
        isp_number::integer as isp_number,
        regulation_state::integer as regulation_state,
        regulation_state = 2 as is_dual_priced
    from source
)

select * from renamed
