with

source as (
    {{ latest_versions(source('registry', 'registry_sites'), ['site_id']) }}
),

renamed as (
    select
        -- ids
        site_id,
        location_id,

        -- identifiers outside the platform (the allocation point's EAN, used towards the TSO)
        ean::text as ean,

        -- lineage
        file_id as registry_file_id,
        received_at as updated_at
    from source
)

select * from renamed
