-- Device-to-pool memberships with validity. Settle a past ISP with the membership valid then:
-- valid_from <= isp_start and (valid_to is null or valid_to > isp_start).
select
    device_id,
    pool_id,
    market,
    site_id,
    valid_from,
    valid_to
from {{ ref('int_memberships_joined_to_markets') }}
