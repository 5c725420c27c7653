with

source as (
    {{ latest_versions(source('registry', 'registry_customers'), ['customer_id']) }}
),

renamed as (
    select
        -- ids
        customer_id,

        -- lineage
        file_id as registry_file_id,
        received_at as updated_at
    from source
)

select * from renamed
