with

source as (
    select * from {{ source('baselines', 'baseline_backtests') }}
),

renamed as (
    select
        -- ids
        backtest_id,
        pool_id,
        method,
        horizon_min,

        -- scores
        mae_mw,
        rmse_mw,
        bias_mw,
        nmae_pct,
        n as forecasts_scored,
        chosen,

        -- what was scored
        history_start,
        history_end,
        test_days,

        -- lineage
        computed_at,
        run_id
    from source
)

select * from renamed
