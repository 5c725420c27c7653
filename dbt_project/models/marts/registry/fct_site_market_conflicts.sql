select
    site_id,
    conflict_from,
    conflict_to,
    markets,
    device_ids,
    pool_ids,
    memberships
from {{ ref('int_site_market_conflicts') }}
