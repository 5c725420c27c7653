"""Jobs and schedules: named selections of assets, and when they run."""

from datetime import timedelta

import dagster as dg

from orchestration.partitions import (
    BIDDING_HOURS_AHEAD,
    activation_partitions,
    bidding_hourly_partitions,
    hourly_partitions,
)

POOL_FLEX = dg.AssetKey(["raw", "pool_flex_isp"])
TSO_BIDS = dg.AssetKey(["outbox", "tso_bids"])
DISPATCH_ASSETS = dg.AssetSelection.assets(
    dg.AssetKey(["raw", "tso_activations"]),
    dg.AssetKey(["raw", "dispatch_runs"]),
    dg.AssetKey(["raw", "dispatch_setpoints"]),
)

registry_job = dg.define_asset_job(
    name="registry_job",
    selection=dg.AssetSelection.groups("registry", "ops", "calendar")
    | (dg.AssetSelection.groups("bidding") - dg.AssetSelection.assets(POOL_FLEX, TSO_BIDS))
    | (dg.AssetSelection.groups("dispatch") - DISPATCH_ASSETS),
    description="Registry & pooling end to end: device-cloud onboardings, landed registry files, "
    "dbt registry marts with their tests, the ISP calendar, site exclusivity alerts and TSO "
    "registration; also (re)creates the bidding and dispatch views over their raw tables.",
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
    selection=dg.AssetSelection.assets(POOL_FLEX, TSO_BIDS),
    partitions_def=bidding_hourly_partitions,
    description="Per UTC hour: each pool's upward and downward flexibility for the hour's four "
    "ISPs (device states at each gate, or now if earlier; 10% quantile margin), then the bids "
    "priced from it as XSD-valid ReserveBid documents to the TSO, before each gate closes.",
)

dispatch_job = dg.define_asset_job(
    name="dispatch_job",
    selection=DISPATCH_ASSETS,
    partitions_def=activation_partitions,
    executor_def=dg.in_process_executor,
    description="Per activation revision (launched by tso_activation_sensor): store and "
    "acknowledge it, split the request over the pool's devices, send the setpoints, move the "
    "share of refusing devices, and send the activation response. In-process: one step "
    "process less per run, which is most of the launch latency.",
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


#: How long before an hour the schedule decides its flexibility and bids (the tick at half past
#: the hour before the previous one).
BIDDING_DECISION_LEAD = timedelta(minutes=60 * BIDDING_HOURS_AHEAD - 30)


@dg.schedule(
    name="pool_flex_schedule",
    description="At half past each hour: the flexibility and bids of the hour two hours ahead, "
    "so the bids reach the TSO before the first of its gates closes (aFRR and mFRR: 25 minutes "
    "before each ISP; the first gate is 65 minutes after the run).",
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
        dispatch_job,
    ],
    schedules=[
        device_cloud_onboarding_schedule,
        measurements_hourly_schedule,
        baseline_backtest_schedule,
        pool_flex_schedule,
    ],
)
