with

source as (
    {{ latest_versions(source('registry', 'registry_locations'), ['location_id']) }}
),

renamed as (
    select
        -- ids
        location_id,
        customer_id,

        -- identifiers outside the platform (not used in TSO processes)
        ean::text as ean,

        -- lineage
        file_id as registry_file_id,
        received_at as updated_at
    from source
)

select * from renamed
