with

source as (
    {{ latest_versions(
        source('registry', 'registry_memberships'), ['device_id', 'pool_id', 'valid_from']
    ) }}
),

renamed as (
    select
        -- ids
        device_id,
        pool_id,

        -- validity, half-open [valid_from, valid_to); null valid_to = open
        valid_from,
        valid_to,

        -- lineage
        file_id as registry_file_id,
        received_at as updated_at
    from source
)

select * from renamed
