-- The newest backtest's scores: what the baselines issued from now on are chosen by.
{{ config(materialized='view') }}

with

backtests as (
    select * from {{ ref('stg_baselines__backtests') }}
),

latest as (
    select max(backtest_id) as backtest_id from backtests
)

select
    backtests.pool_id,
    backtests.method,
    backtests.horizon_min::integer as horizon_min,
    backtests.mae_mw,
    backtests.rmse_mw,
    backtests.bias_mw,
    backtests.nmae_pct,
    backtests.forecasts_scored,
    backtests.chosen,
    backtests.backtest_id,
    backtests.history_start,
    backtests.history_end,
    backtests.test_days,
    backtests.computed_at
from backtests
inner join latest on backtests.backtest_id = latest.backtest_id
