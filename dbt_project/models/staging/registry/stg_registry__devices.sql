with

source as (
    {{ latest_versions(source('registry', 'registry_devices'), ['device_id']) }}
),

renamed as (
    select
        -- ids
        device_id,
        site_id,

        -- what it is
        device_type,
        oem,
        controllable,

        -- limits and the owner's price
        rated_power_kw::numeric(12, 3) as rated_power_kw,
        strike_price_eur_mwh::numeric(12, 2) as strike_price_eur_mwh,

        -- lineage
        file_id as registry_file_id,
        received_at as updated_at
    from source
)

select * from renamed
