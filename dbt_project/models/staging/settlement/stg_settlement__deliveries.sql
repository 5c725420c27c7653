with

source as (
    select * from {{ source('settlement', 'settlement_delivery_isp') }}
),

renamed as (
    select
        -- ids
        settlement_id,
        activation_id,
        revision as activation_revision,
        pool_id,
        isp_start,

        -- request and delivery (kWh, delivered in the activation's direction)
        direction,
        requested_kwh,
        measured_kwh,
        baseline_kwh,
        delivered_kwh,
        delivery_ratio,
        shortfall_kwh,
        coverage
    from source
)

select * from renamed
