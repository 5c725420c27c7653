"""Jobs and schedules: named selections of assets, and when they run."""

from datetime import timedelta

import dagster as dg

from orchestration.partitions import (
    BIDDING_HOURS_AHEAD,
    bidding_hourly_partitions,
    hourly_partitions,
)

POOL_FLEX = dg.AssetKey(["raw", "pool_flex_isp"])

registry_job = dg.define_asset_job(
    name="registry_job",
    selection=dg.AssetSelection.groups("registry", "ops", "calendar")
    | (dg.AssetSelection.groups("bidding") - dg.AssetSelection.assets(POOL_FLEX)),
    description="Registry & pooling end to end: device-cloud onboardings, landed registry files, "
    "dbt registry marts with their tests, the ISP calendar, site exclusivity alerts and TSO "
    "registration; also (re)creates the bidding views over the flexibility table.",
)

measurement_files_job = dg.define_asset_job(
    name="measurement_files_job",
    selection=dg.AssetSelection.assets(dg.AssetKey(["landing", "measurement_files"])),
    description="Load landed measurement files (bulk backfills), once per file content.",
)

measurements_hourly_job = dg.define_asset_job(
    name="measurements_hourly_job",
    selection=dg.AssetSelection.assets(dg.AssetKey(["raw", "device_measurements"]))
    | dg.AssetSelection.groups("measurements")
    - dg.AssetSelection.assets(dg.AssetKey(["landing", "measurement_files"])),
    partitions_def=hourly_partitions,
    description="Per UTC hour: fetch the device cloud's readings, run the blocking quality "
    "suite, then build energy per device and pool per ISP and pool power.",
)

POOL_BASELINES = dg.AssetKey(["raw", "pool_baselines"])

baseline_backtest_job = dg.define_asset_job(
    name="baseline_backtest_job",
    selection=dg.AssetSelection.groups("baselines") - dg.AssetSelection.assets(POOL_BASELINES),
    description="Backtest every baseline method per pool and horizon on the history, choose "
    "the best, and (re)build the baseline marts with their tests.",
)

validation_hourly_job = dg.define_asset_job(
    name="validation_hourly_job",
    selection=dg.AssetSelection.assets(POOL_BASELINES) | dg.AssetSelection.groups("validation"),
    partitions_def=hourly_partitions,
    description="Per UTC hour: issue each pool's baselines (1, 5, 10 min ahead, every minute), "
    "then send the TSO the pool's measurements, baselines and per-device data as XSD-valid "
    "MeasurementValue documents.",
)

bidding_hourly_job = dg.define_asset_job(
    name="bidding_hourly_job",
    selection=dg.AssetSelection.assets(POOL_FLEX),
    partitions_def=bidding_hourly_partitions,
    description="Per UTC hour: each pool's upward and downward flexibility for the hour's four "
    "ISPs, from the device states at each market's gate closure, with the 10% quantile margin.",
)

device_cloud_onboarding_schedule = dg.ScheduleDefinition(
    name="device_cloud_onboarding_schedule",
    description="Every 15 minutes: fetch owners' onboardings from the device cloud and rebuild "
    "the registry.",
    job=registry_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="Europe/Amsterdam",
)

measurements_hourly_schedule = dg.build_schedule_from_partitioned_job(
    measurements_hourly_job,
    minute_of_hour=5,
    name="measurements_hourly_schedule",
    description="At 5 past each hour: the previous UTC hour's readings, checks and aggregates.",
)


@dg.schedule(
    name="pool_flex_schedule",
    description="At half past each hour: the flexibility of the hour two hours ahead, read "
    "from the device states at its gates, so it is known before the first of them closes "
    "(aFRR and mFRR: 25 minutes before each ISP).",
    job=bidding_hourly_job,
    cron_schedule="30 * * * *",
    execution_timezone="UTC",
)
def pool_flex_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """One run for the partition of the hour starting two hours after this hour."""
    hour = context.scheduled_execution_time.replace(minute=0, second=0, microsecond=0)
    target = hour + timedelta(hours=BIDDING_HOURS_AHEAD)
    key = f"{target:%Y-%m-%d-%H:%M}"
    return dg.RunRequest(run_key=f"pool-flex-{key}", partition_key=key)


baseline_backtest_schedule = dg.ScheduleDefinition(
    name="baseline_backtest_schedule",
    description="Daily at 00:45 Amsterdam time: backtest the baseline methods on the last ten "
    "days and choose the method each pool issues with from then on.",
    job=baseline_backtest_job,
    cron_schedule="45 0 * * *",
    execution_timezone="Europe/Amsterdam",
)

defs = dg.Definitions(
    jobs=[
        registry_job,
        measurement_files_job,
        measurements_hourly_job,
        baseline_backtest_job,
        validation_hourly_job,
        bidding_hourly_job,
    ],
    schedules=[
        device_cloud_onboarding_schedule,
        measurements_hourly_schedule,
        baseline_backtest_schedule,
        pool_flex_schedule,
    ],
)
