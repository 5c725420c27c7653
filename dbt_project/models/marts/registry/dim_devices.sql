with

devices as (
    select * from {{ ref('stg_registry__devices') }}
),

sites as (
    select * from {{ ref('stg_registry__sites') }}
)

select
    devices.device_id,
    devices.site_id,
    devices.device_type,
    devices.rated_power_kw,
    devices.controllable,
    devices.oem,
    devices.strike_price_eur_mwh,
    sites.location_id,
    devices.updated_at
from devices
inner join sites on devices.site_id = sites.site_id
