"""``make demo``: the platform end to end on the bundled sample and one real market day.

Registry (bundled batches) → ISP calendar → ten days of measurement history → backtest of the
baseline methods → measurements of 2025-02-27 (the first six hours from a landed file, the
whole day from the device-cloud simulator) → energy per pool and ISP → baselines every minute →
measurement, baseline and per-device documents to the TSO simulator → flexibility per pool
and ISP.
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from integrations.database.admin import prepare_database
from integrations.settings import LANDING_DIR, SAMPLE_DATA_DIR
from integrations.summary import (
    flexibility_summary_text,
    measurement_summary_text,
    summary_text,
    validation_summary_text,
)
from orchestration.instance import use_project_instance
from simulators.serve import start_simulators

DEMO_DAY = date(2025, 2, 27)  # the real TenneT replay day (see data/SOURCES.md)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FILE_HOURS = 6
#: Days of measurement history before the demo day: the backtest scores the baseline methods
#: on the last 3 of them, each forecast from the 7 days before it (X-of-Y days needs 7).
HISTORY_DAYS = 10
STEPS = 9
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# Readings a device cloud export gets wrong now and then; the demo shows them quarantined.
BAD_LINES = [
    "DEV-000001,2025-02-27T03:00:00+01:00,NaN",
    "DEV-000002,2025-02-27 03:00:00,120",
    "DEV-000003,2025-02-27T03:00:00+01:00,250000",
]


def day_window(day: date) -> tuple[datetime, datetime]:
    """The local day as a UTC window (23, 24 or 25 hours)."""
    start = datetime.combine(day, datetime.min.time(), AMSTERDAM)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def land_sample_registry() -> int:
    """Copy the bundled registry batches into the landing zone; return the files copied."""
    source = SAMPLE_DATA_DIR / "registry"
    shutil.copytree(source, LANDING_DIR / "registry", dirs_exist_ok=True)
    return sum(1 for _ in source.rglob("*.csv"))


def land_measurement_export(device_cloud_url: str, start: datetime, hours: int) -> Path:
    """Write a bulk export of the first hours from the device cloud into the landing zone."""
    from integrations.device_cloud_client import DeviceCloudClient

    folder = LANDING_DIR / "measurements"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"export_{start:%Y%m%dT%H%MZ}_{hours}h.csv"
    client = DeviceCloudClient(base_url=device_cloud_url)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("device_id", "ts", "power_w"))
        for page in client.measurements(start, start + timedelta(hours=hours)):
            writer.writerows((item["device_id"], item["ts"], item["power_w"]) for item in page)
        handle.write("\n".join(BAD_LINES) + "\n")
    return path


def _run(
    say: Callable[[str], None], job: str, ops: dict[str, object] | None = None, **kwargs: object
) -> bool:
    import dagster as dg

    from orchestration.definitions import defs

    started = time.monotonic()
    run_config = {**QUIET, "ops": ops} if ops else QUIET
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False, **kwargs
        )
    seconds = time.monotonic() - started
    if result.success:
        say(f"{job}: run {result.run_id} succeeded in {seconds:.1f} s")
    else:
        say(f"{job}: run {result.run_id} FAILED after {seconds:.1f} s (see `make dev` → Runs)")
    return result.success


def hour_range_tags(start: datetime, end: datetime) -> dict[str, str]:
    """Run tags for one run over the hourly partitions of [start, end)."""
    last_hour = end - timedelta(hours=1)
    return {
        "dagster/asset_partition_range_start": f"{start:%Y-%m-%d-%H:%M}",
        "dagster/asset_partition_range_end": f"{last_hour:%Y-%m-%d-%H:%M}",
    }


def run_demo() -> int:
    """Start the database and simulators, run the jobs on the sample, print the summaries."""

    def say(line: str) -> None:
        print(f"      {line}", flush=True)

    def step(number: int, text: str) -> None:
        print(f"[{number}/{STEPS}] {text}", flush=True)

    step(1, "database")
    url = prepare_database(say)
    use_project_instance()
    step(2, "simulators and the bundled registry")
    tso, device_cloud = start_simulators()
    os.environ["VPPAL_TSO_URL"] = tso.url
    os.environ["VPPAL_DEVICE_CLOUD_URL"] = device_cloud.url
    say(f"TSO simulator {tso.url}, device cloud simulator {device_cloud.url}")
    say(f"{land_sample_registry()} registry files landed in {LANDING_DIR / 'registry'}")
    start, end = day_window(DEMO_DAY)
    history_start, _ = day_window(DEMO_DAY - timedelta(days=HISTORY_DAYS))
    try:
        step(3, "registry_job: onboardings, intake, dbt with tests, alerts, TSO")
        if not _run(say, "registry_job"):
            return 1
        step(4, f"history: the {HISTORY_DAYS} days before {DEMO_DAY} at native resolution")
        native = {"raw__device_measurements": {"config": {"resolution": "native"}}}
        if not _run(
            say, "measurements_hourly_job", native, tags=hour_range_tags(history_start, start)
        ):
            return 1
        step(5, f"backtest of the baseline methods on the {HISTORY_DAYS} days of history")
        backtest = {
            "raw__baseline_backtests": {
                "config": {"until": DEMO_DAY.isoformat(), "history_days": HISTORY_DAYS}
            }
        }
        if not _run(say, "baseline_backtest_job", backtest):
            return 1
        step(6, f"measurements of {DEMO_DAY} ({start:%Y-%m-%d %H:%M}Z - {end:%Y-%m-%d %H:%M}Z)")
        export = land_measurement_export(device_cloud.url, start, FILE_HOURS)
        say(f"landed {export.name}: the first {FILE_HOURS} hours as a bulk file")
        if not _run(say, "measurement_files_job"):
            return 1
        say("device cloud, quality suite and aggregates for every hour of the day (one run)")
        if not _run(say, "measurements_hourly_job", tags=hour_range_tags(start, end)):
            return 1
        step(7, "baselines every minute and the validation documents to the TSO")
        if not _run(say, "validation_hourly_job", tags=hour_range_tags(start, end)):
            return 1
        step(8, "flexibility per pool and ISP, from the device states at each gate")
        if not _run(say, "bidding_hourly_job", tags=hour_range_tags(start, end)):
            return 1
    finally:
        for service in (tso, device_cloud):
            service.stop()
    step(9, "summary\n")
    print(summary_text(url))
    print()
    print(measurement_summary_text(url, start, end))
    print()
    print(validation_summary_text(url, start, end))
    print()
    print(flexibility_summary_text(url, start, end))
    return 0
