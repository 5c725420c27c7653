with

source as (
    {{ latest_versions(source('registry', 'registry_pools'), ['pool_id']) }}
),

renamed as (
    select
        -- ids
        pool_id,

        -- what it is
        market,
        name as pool_name,

        -- lineage
        file_id as registry_file_id,
        received_at as updated_at
    from source
)

select * from renamed
