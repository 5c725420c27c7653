with

source as (
    select * from {{ source('measurements', 'device_measurements') }}
),

renamed as (
    select
        -- ids
        device_id,
        load_id,

        -- reading
        ts,
        power_w,

        -- lineage
        received_at
    from source
)

select * from renamed
