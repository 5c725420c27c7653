select * from {{ ref('int_site_market_conflicts') }}
