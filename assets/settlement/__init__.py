"""Settlement: prices, the day's settlement (delivery, TSO, prosumers, statements), exports.

``settlement_job`` settles one Europe/Amsterdam day (a partition): the Python ledger, then the
dbt models downstream of it (staging, the reconciliation, ``marts.fct_delivery_isp`` and the
``finance`` tables with their tests), then the CSV/Parquet exports. ``settlement_prices_job``
loads price files. The settlement sensor (``sensors/settlement.py``) launches both;
``settlement_daily_schedule`` catches the days the sensor missed or whose run failed.
"""

import dagster as dg

from assets.settlement.exports import finance_exports
from assets.settlement.partitions import settlement_daily_partitions
from assets.settlement.prices import SETTLEMENT_PRICES, settlement_prices
from assets.settlement.settle import LEDGER, settle_day
from integrations.database.resource import PostgresResource

#: Days judged by the daily schedule: the newest local days with prices.
STRAGGLER_LOOKBACK_DAYS = 40

settlement_job = dg.define_asset_job(
    name="settlement_job",
    selection=dg.AssetSelection.assets(*LEDGER).downstream(),
    partitions_def=settlement_daily_partitions,
    description="Per Europe/Amsterdam day: delivery per activation, TSO revenue per pool and "
    "ISP, prosumer payouts and new statement versions (differences only), then the finance "
    "tables with the reconciliation tests, then the CSV/Parquet exports.",
)

settlement_prices_job = dg.define_asset_job(
    name="settlement_prices_job",
    selection=dg.AssetSelection.assets(
        SETTLEMENT_PRICES, dg.AssetKey(["staging", "stg_settlement__prices"])
    ),
    description="Load TenneT settlement-price files (bundled and landed), once per content.",
)


@dg.schedule(
    name="settlement_daily_schedule",
    description="Daily at 07:00 Amsterdam time: settle the days (of the last 40 with prices) "
    "that are ready but not settled with their current inputs: days the sensor missed, or "
    "whose run failed (retried once a day).",
    job=settlement_job,
    cron_schedule="0 7 * * *",
    execution_timezone="Europe/Amsterdam",
)
def settlement_daily_schedule(
    context: dg.ScheduleEvaluationContext, postgres: PostgresResource
) -> list[dg.RunRequest] | dg.SkipReason:
    """One run per waiting day, keyed by the tick's date, the day and its input digest."""
    from datetime import UTC, datetime

    from integrations.settlement.readiness import days_waiting, run_key

    waiting, judged = days_waiting(context.instance, postgres.url, STRAGGLER_LOOKBACK_DAYS)
    if not waiting:
        return dg.SkipReason(f"nothing to settle among {len(judged)} days with prices")
    tick = context.scheduled_execution_time or datetime.now(UTC)
    return [
        dg.RunRequest(
            run_key=run_key(status, f"settlement-straggler-{tick:%Y%m%d}"),
            partition_key=status.local_date.isoformat(),
            tags={"vppal/inputs_digest": status.inputs_digest or ""},
        )
        for status in waiting
    ]


defs = dg.Definitions(
    assets=[settlement_prices, settle_day, finance_exports],
    jobs=[settlement_job, settlement_prices_job],
    schedules=[settlement_daily_schedule],
)

__all__ = ["defs", "settlement_daily_partitions", "settlement_job", "settlement_prices_job"]
