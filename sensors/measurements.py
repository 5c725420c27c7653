"""Measurement sensors: landed files, the hours they touch, and data that stops arriving."""

import json
import os
from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.measurements.files import FILE_SUFFIXES
from integrations.database.resource import PostgresResource
from integrations.settings import LANDING_DIR
from orchestration.jobs import measurement_files_job, measurements_hourly_job
from sensors.fingerprints import file_fingerprints, landing_sensor_result

STALE_ALERT = "measurements_stale"


@dg.sensor(
    name="measurement_files_sensor",
    description="Watches var/landing/measurements/ for new CSV or Parquet files and loads each "
    "content once (run key = the files' content hashes).",
    job=measurement_files_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def measurement_files_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Request a load when a file with new content lands."""
    current = file_fingerprints(
        LANDING_DIR / "measurements", "*", keep=lambda path: path.suffix.lower() in FILE_SUFFIXES
    )
    return landing_sensor_result(context.cursor, current, "measurement files")


def hour_range_request(hours: list[str], key: str) -> dg.RunRequest | None:
    """One run over the hourly partitions from the first to the last hour touched."""
    if not hours:
        return None
    return dg.RunRequest(
        run_key=key,
        tags={
            "dagster/asset_partition_range_start": min(hours),
            "dagster/asset_partition_range_end": max(hours),
        },
    )


@dg.asset_sensor(
    name="measurement_hours_sensor",
    description="After measurement files load, checks and aggregates again the hours they "
    "touched (late data lands in the hour it belongs to).",
    asset_key=dg.AssetKey(["landing", "measurement_files"]),
    job=measurements_hourly_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def measurement_hours_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    """Request one run over the touched hours of the new materialisation."""
    materialization = asset_event.asset_materialization
    metadata = materialization.metadata if materialization else {}
    touched = metadata.get("hours_touched")
    hours = json.loads(touched.value) if touched is not None else []
    request = hour_range_request(
        hours, f"measurement-files-{asset_event.run_id}-{asset_event.timestamp}"
    )
    if request is None:
        return dg.SkipReason("the files touched no hour")
    return request


def stale_after() -> timedelta:
    """How long without a device-cloud load before the alert (VPPAL_MEASUREMENTS_STALE_MINUTES)."""
    return timedelta(minutes=int(os.environ.get("VPPAL_MEASUREMENTS_STALE_MINUTES", "120")))


@dg.sensor(
    name="measurement_freshness_sensor",
    description="Raises an ops.alerts row (measurements_stale) when no device-cloud readings "
    "arrived for VPPAL_MEASUREMENTS_STALE_MINUTES (default 120), and closes it when they do.",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def measurement_freshness_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.SkipReason:
    """Compare the last device-cloud load with the allowed silence; open or close the alert."""
    now = datetime.now(UTC)
    with postgres.connect() as conn:
        last = conn.execute(
            "select max(loaded_at) from raw.measurement_loads"
            " where source = 'device_cloud' and rows_loaded > 0"
        ).fetchone()[0]
        stale = last is None or now - last > stale_after()
        if stale:
            # One alert per silence, keyed by the last load before it: a later silence (after
            # readings came back) opens a new alert.
            since = last.isoformat() if last else "never"
            conn.execute(
                "insert into ops.alerts (alert_type, alert_key, entity_id, severity, message,"
                " details, opened_at) values (%s, %s, 'device_cloud', 'error', %s, %s, %s)"
                " on conflict (alert_key) do nothing",
                (
                    STALE_ALERT,
                    f"{STALE_ALERT}:device_cloud:{since}",
                    f"no device-cloud readings since {since}",
                    json.dumps(
                        {
                            "last_load": since,
                            "allowed_minutes": int(stale_after().total_seconds() // 60),
                        }
                    ),
                    now,
                ),
            )
        else:
            conn.execute(
                "update ops.alerts set closed_at = %s, updated_at = %s"
                " where alert_type = %s and entity_id = 'device_cloud' and closed_at is null",
                (now, now, STALE_ALERT),
            )
    return dg.SkipReason("measurements stale: alert open" if stale else "measurements fresh")
