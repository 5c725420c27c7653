-- The reconciliation per Amsterdam month, over all versions: the prosumers' statements and the
-- aggregator's margins add up to the TSO revenue, and the statements to the payout rows.
with

tso as (
    select
        month,
        sum(revenue_eur) as revenue_eur,
        sum(aggregator_margin_eur) as aggregator_margin_eur
    from {{ ref('stg_settlement__tso_rows') }}
    group by month
),

payouts as (
    select
        month,
        sum(payout_eur) as payouts_eur
    from {{ ref('stg_settlement__prosumer_rows') }}
    group by month
),

statements as (
    select
        month,
        sum(total_eur) as statements_eur,
        count(distinct customer_pseudonym) as prosumers
    from {{ ref('stg_settlement__statements') }}
    group by month
),

months as (
    select month from tso
    union
    select month from payouts
    union
    select month from statements
)

select
    months.month,
    coalesce(tso.revenue_eur, 0) as revenue_eur,
    coalesce(statements.statements_eur, 0) as statements_eur,
    coalesce(payouts.payouts_eur, 0) as payouts_eur,
    coalesce(tso.aggregator_margin_eur, 0) as aggregator_margin_eur,
    coalesce(statements.prosumers, 0) as prosumers,
    coalesce(tso.revenue_eur, 0)
    = coalesce(statements.statements_eur, 0) + coalesce(tso.aggregator_margin_eur, 0)
    and coalesce(statements.statements_eur, 0) = coalesce(payouts.payouts_eur, 0) as reconciles
from months
left join tso on months.month = tso.month
left join payouts on months.month = payouts.month
left join statements on months.month = statements.month
