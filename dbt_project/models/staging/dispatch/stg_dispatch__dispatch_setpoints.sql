with

source as (
    select * from {{ source('dispatch', 'dispatch_setpoints') }}
),

renamed as (
    select
        -- ids
        activation_id,
        revision,
        device_id,
        pool_id,
        site_id,

        -- the setpoint
        setpoint_kw,
        target_kw,
        valid_from,
        valid_to,
        status,
        reason,
        sent_at
    from source
)

select * from renamed
