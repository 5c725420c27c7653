"""Device readings per UTC hour from the device cloud, checked by a blocking quality suite."""

from datetime import timedelta

import dagster as dg
from pydantic import Field

from assets.measurements.quarantine_metadata import quarantine_metadata
from integrations.database.resource import PostgresResource
from integrations.device_cloud_client import DeviceCloudClient
from orchestration.partitions import hourly_partitions

# I/O modules (psycopg, pyarrow and what uses them) are imported inside the asset body: every
# run and UI reload imports this code location, and only a run of this asset needs them.

RAW_READINGS = dg.AssetKey(["raw", "device_measurements"])


class DeviceCloudReadingsConfig(dg.Config):
    """What to ask the device cloud for."""

    resolution: str = Field(
        default="4s",
        description="'4s': 4-second streams for aFRR devices (the TSO checks aFRR delivery at "
        "that resolution), native resolution for the others; 'native': native for all.",
    )


QUALITY_CHECK = "passes_measurement_quality_suite"


@dg.asset(
    key=RAW_READINGS,
    group_name="measurements",
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetKey(["marts", "dim_devices"])],
    kinds={"python", "api", "postgres"},
    owners=["team:data-platform"],
    # Dagster's freshness view: an hour is due by 15 past the next hour. The
    # measurement_freshness_sensor raises the operators' ops.alerts row.
    freshness_policy=dg.FreshnessPolicy.cron(
        deadline_cron="15 * * * *", lower_bound_delta=timedelta(hours=1)
    ),
    check_specs=[
        dg.AssetCheckSpec(
            QUALITY_CHECK,
            asset=RAW_READINGS,
            blocking=True,
            description="Great Expectations suite on the hour's readings (all sources): value "
            "ranges per device type, completeness per device and hour, one reading per device "
            "and timestamp. Blocking: the hour's aggregates are not built on a failing hour.",
        )
    ],
)
def raw_device_measurements(
    context: dg.AssetExecutionContext,
    config: DeviceCloudReadingsConfig,
    postgres: PostgresResource,
    device_cloud: DeviceCloudClient,
) -> dg.MaterializeResult:
    """Fetch each hour of the partition window from the device cloud and load it."""
    from integrations.measurements.loader import load_device_cloud_window
    from integrations.progress import Progress, relay
    from integrations.quality.measurements import check_measurements

    window = context.partition_time_window
    hours = int((window.end - window.start) / timedelta(hours=1))
    progress = Progress("device cloud", hours, "hours", relay(context.log.info), every_s=10)
    totals = {"loaded": 0, "quarantined": 0, "duplicate": 0, "conflicting": 0, "unchanged": 0}
    reasons: dict[str, int] = {}
    hour = window.start
    while hour < window.end:
        end = hour + timedelta(hours=1)
        result = load_device_cloud_window(
            postgres.url, hour, end, device_cloud.measurements(hour, end, config.resolution)
        )
        if result.skipped:
            totals["unchanged"] += 1
        totals["loaded"] += result.rows_loaded
        totals["quarantined"] += result.rows_quarantined
        totals["duplicate"] += result.rows_duplicate
        totals["conflicting"] += result.rows_conflicting
        for code, count in result.quarantined_by_reason.items():
            reasons[code] = reasons.get(code, 0) + count
        hour = end
        progress.advance(note=f"{totals['loaded']:,} readings loaded")
    context.log.info("device cloud %s - %s: %s", window.start, window.end, totals)
    report = check_measurements(postgres.url, window.start, window.end)
    return dg.MaterializeResult(
        metadata={
            "rows_loaded": dg.MetadataValue.int(totals["loaded"]),
            "rows_quarantined": dg.MetadataValue.int(totals["quarantined"]),
            "duplicates_dropped": dg.MetadataValue.int(totals["duplicate"]),
            "conflicts_recorded": dg.MetadataValue.int(totals["conflicting"]),
            "hours_unchanged": dg.MetadataValue.int(totals["unchanged"]),
            **quarantine_metadata(reasons),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=QUALITY_CHECK,
                passed=report.success,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "rows_checked": dg.MetadataValue.int(report.rows_checked),
                    "expectations": dg.MetadataValue.md(report.markdown()),
                },
            )
        ],
    )
