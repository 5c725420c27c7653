-- The reconciliation invariant per pool and ISP, over all statement versions:
-- revenue_eur = sum(payout_eur) + aggregator_margin_eur, to the cent.
with

tso as (
    select
        pool_id,
        isp_start,
        sum(revenue_eur) as revenue_eur,
        sum(aggregator_margin_eur) as aggregator_margin_eur,
        max(statement_version) as latest_version
    from {{ ref('stg_settlement__tso_rows') }}
    group by pool_id, isp_start
),

payouts as (
    select
        pool_id,
        isp_start,
        sum(payout_eur) as payouts_eur,
        count(distinct device_id) as devices
    from {{ ref('stg_settlement__prosumer_rows') }}
    group by pool_id, isp_start
),

joined as (
    select
        tso.latest_version,
        coalesce(tso.pool_id, payouts.pool_id) as pool_id,
        coalesce(tso.isp_start, payouts.isp_start) as isp_start,
        coalesce(tso.revenue_eur, 0) as revenue_eur,
        coalesce(payouts.payouts_eur, 0) as payouts_eur,
        coalesce(tso.aggregator_margin_eur, 0) as aggregator_margin_eur,
        coalesce(payouts.devices, 0) as devices
    from tso
    full outer join payouts
        on tso.pool_id = payouts.pool_id and tso.isp_start = payouts.isp_start
)

select
    pool_id,
    isp_start,
    revenue_eur,
    payouts_eur,
    aggregator_margin_eur,
    devices,
    latest_version,
    revenue_eur - payouts_eur - aggregator_margin_eur as difference_eur,
    revenue_eur = payouts_eur + aggregator_margin_eur as reconciles
from joined
