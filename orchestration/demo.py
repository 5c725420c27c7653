"""``make demo``: the platform end to end on the bundled sample and one real market day.

Registry (bundled batches) → ISP calendar → ten days of measurement history → backtest of the
baseline methods → on 2025-02-27, in the order the day happens: flexibility and bids per hour
(each at its schedule tick, the TSO simulator on the same replayed clock) → the day's
activations, acknowledged, dispatched and answered → the day's measurements (the first six
hours from a landed file, the whole day from the device-cloud simulator) → baselines every
minute and the validation documents to the TSO → settlement (TenneT's prices, delivery, TSO
revenue, prosumer payouts, exports) → summaries.
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
from integrations.progress import Progress, listening
from integrations.settings import LANDING_DIR, SAMPLE_DATA_DIR
from integrations.settlement.summary import settlement_summary_text
from integrations.summary import (
    activations_summary_text,
    bids_summary_text,
    flexibility_summary_text,
    measurement_summary_text,
    summary_text,
    validation_summary_text,
)
from orchestration.instance import use_project_instance
from simulators.clock import ReplayClock
from simulators.serve import start_simulators

DEMO_DAY = date(2025, 2, 27)  # the real TenneT replay day (see data/SOURCES.md)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FILE_HOURS = 6
#: Days of measurement history before the demo day: the backtest scores the baseline methods
#: on the last 3 of them, each forecast from the 7 days before it (X-of-Y days needs 7).
HISTORY_DAYS = 10
STEPS = 11
#: Replayed time between two polls of the TSO's activation feed in the demo (aFRR blocks).
ACTIVATION_STEP = timedelta(minutes=5)
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
    say: Callable[[str], None],
    job: str,
    ops: dict[str, object] | None = None,
    resources: dict[str, object] | None = None,
    label: str = "",
    quiet: bool = False,
    **kwargs: object,
) -> bool:
    """Run ``job`` in process; say how it went (only a failure when ``quiet``).

    While it runs, the progress its assets report (hours loaded, models built, ...) is said too.
    """
    import dagster as dg

    from orchestration.definitions import defs

    started = time.monotonic()
    run_config: dict[str, object] = dict(QUIET)
    if ops:
        run_config["ops"] = ops
    if resources:
        run_config["resources"] = resources
    job_label = f"{job} {label}".strip()
    with dg.DagsterInstance.get() as instance, listening(lambda line: say(f"  {line}")):
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False, **kwargs
        )
    seconds = time.monotonic() - started
    if result.success:
        if not quiet:
            say(f"{job_label}: run {result.run_id} succeeded in {seconds:.1f} s")
    else:
        failed = f"FAILED after {seconds:.1f} s (see `make dev` → Runs)"
        say(f"{job_label}: run {result.run_id} {failed}")
        for line in failure_lines(result):
            say(f"  {line}")
    return result.success


def failure_lines(result: object) -> list[str]:
    """Per failed step, its name and the root error's first line (which names what to fix)."""
    lines = []
    for event in result.get_step_failure_events():  # type: ignore[attr-defined]
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause  # Dagster wraps the asset's own exception
        message = error.message.strip().splitlines()[0] if error and error.message else "?"
        lines.append(f"step {event.step_key}: {message}")
    return lines


def hour_range_tags(start: datetime, end: datetime) -> dict[str, str]:
    """Run tags for one run over the hourly partitions of [start, end)."""
    last_hour = end - timedelta(hours=1)
    return {
        "dagster/asset_partition_range_start": f"{start:%Y-%m-%d-%H:%M}",
        "dagster/asset_partition_range_end": f"{last_hour:%Y-%m-%d-%H:%M}",
    }


def resend_recorded_bids(tso_clock: ReplayClock, start: datetime, end: datetime) -> int:
    """Post the day's recorded bid documents again, each at the instant it was planned.

    The TSO simulator starts empty every demo, while the database remembers what it was sent
    (a second ``make demo`` sends no bid twice). Re-sending a recorded document's exact bytes
    is safe by design (the TSO answers an identical mRID+revision identically), and gives the
    simulator back the bids its activations are made against. Returns the documents posted.
    """
    import psycopg

    from integrations.database.urls import database_url
    from orchestration.resources import build_resources

    tso = build_resources()["tso"]
    with psycopg.connect(database_url()) as conn:
        rows = conn.execute(
            "select distinct s.document_mrid, s.revision, s.outbox_path, b.planned_at"
            " from ops.tso_submissions s join raw.bids b on b.document_mrid = s.document_mrid"
            " and b.document_revision = s.revision where s.ack_status = 'accepted'"
            " and s.period_start >= %s and s.period_start < %s order by b.planned_at, 1, 2",
            (start, end),
        ).fetchall()
    for mrid, revision, path, planned_at in rows:
        tso_clock.set(planned_at)
        tso.submit_document(Path(path).read_bytes(), mrid, revision)
    tso_clock.set(None)
    return len(rows)


def replay_bidding(
    say: Callable[[str], None], tso_clock: ReplayClock, start: datetime, end: datetime
) -> bool:
    """One bidding run per hour of [start, end), each on the clock of its schedule tick.

    ``pool_flex_schedule`` runs at half past each hour for the hour after next, so the hour
    starting at H is decided at H - 90 min: the platform's clock (the ``clock`` resource) and the
    TSO simulator's clock are both set to that instant, and every bid reaches the TSO before its
    gate as it would have on the day.
    """
    from orchestration.jobs import BIDDING_DECISION_LEAD

    resent = resend_recorded_bids(tso_clock, start, end)
    if resent:
        say(f"{resent} bid documents recorded by an earlier run posted again to the TSO simulator")
    progress = Progress("bidding", int((end - start) / timedelta(hours=1)), "hours", say)
    hour = start
    while hour < end:
        tick = hour - BIDDING_DECISION_LEAD
        tso_clock.set(tick)
        clock = {"clock": {"config": {"fixed_now": tick.isoformat()}}}
        ok = _run(
            say,
            "bidding_hourly_job",
            resources=clock,
            partition_key=f"{hour:%Y-%m-%d-%H:%M}",
            label=f"{hour:%H:%M}Z decided at {tick:%H:%M}Z",
            quiet=True,
        )
        if not ok:
            return False
        progress.advance(note=f"{hour:%H:%M}Z decided at {tick:%H:%M}Z")
        hour += timedelta(hours=1)
    tso_clock.set(None)
    return True


def _ran_before(instance: object, run_key: str | None) -> bool:
    """True when a successful run with this run key is in the instance already."""
    import dagster as dg

    if run_key is None:
        return False
    runs = instance.get_runs(  # type: ignore[attr-defined]
        filters=dg.RunsFilter(
            tags={"dagster/run_key": run_key}, statuses=[dg.DagsterRunStatus.SUCCESS]
        ),
        limit=1,
    )
    return bool(runs)


def replay_activations(
    say: Callable[[str], None], tso_clock: ReplayClock, start: datetime, end: datetime
) -> bool:
    """The day's activations as they came, every five minutes of replayed time.

    At each step the TSO simulator's clock moves on, so its feed publishes the activations
    (from TenneT's real aFRR volumes of the day, against the bids it accepted) that are due; the
    intake of ``tso_activation_sensor`` judges them and each accepted revision gets its
    ``dispatch_job`` run (acknowledgement, setpoints, response), with the platform's clock on
    the same instant. The daemon would do the same, one sensor tick per second.
    """
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.resources import build_resources
    from sensors.activations import evaluate_activations

    resources = build_resources()
    job = defs.resolve_job_def("dispatch_job")
    cursor: str | None = None
    launched: set[str] = set()
    counts = {"documents": 0, "refused": 0, "runs": 0, "failed": 0}
    started = time.monotonic()
    progress = Progress("activations", int((end - start) / timedelta(hours=1)), "hours", say)
    moment = start
    with dg.DagsterInstance.get() as instance:
        while moment < end:
            tso_clock.set(moment)
            requests, keys, cursor, results = evaluate_activations(
                cursor, resources["tso"], resources["postgres"]
            )
            counts["documents"] += len(results)
            counts["refused"] += sum(1 for r in results if r.status == "refused")
            if keys:
                instance.add_dynamic_partitions("activations", keys)
            clock = {"clock": {"config": {"fixed_now": moment.isoformat()}}}
            for request in requests:
                if request.run_key in launched or _ran_before(instance, request.run_key):
                    continue  # as the daemon: a run key is launched once (also across demos)
                launched.add(request.run_key)
                result = job.execute_in_process(
                    instance=instance,
                    partition_key=request.partition_key,
                    run_config={**QUIET, "resources": clock},
                    tags={"dagster/run_key": request.run_key, **request.tags},
                    raise_on_error=False,
                )
                counts["runs"] += 1
                counts["failed"] += 0 if result.success else 1
            moment += ACTIVATION_STEP
            if (moment - start) % timedelta(hours=1) == timedelta(0):  # an hour replayed
                progress.advance(
                    note=f"{counts['documents']} documents, {counts['runs']} dispatch runs"
                )
    tso_clock.set(None)
    seconds = time.monotonic() - started
    say(
        f"{counts['documents']} activation documents, {counts['refused']} refused, "
        f"{counts['runs']} dispatch runs ({counts['failed']} failed) in {seconds:.0f} s"
    )
    return counts["failed"] == 0


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
    tso_clock = ReplayClock()
    tso, device_cloud = start_simulators(tso_clock=tso_clock)
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
        step(6, f"{DEMO_DAY}: flexibility and bids per hour, each when pool_flex_schedule runs")
        if not replay_bidding(say, tso_clock, start, end):
            return 1
        step(7, "the day's activations: intake, acknowledgement, setpoints, response")
        if not replay_activations(say, tso_clock, start, end):
            return 1
        step(8, f"measurements of {DEMO_DAY} ({start:%Y-%m-%d %H:%M}Z - {end:%Y-%m-%d %H:%M}Z)")
        export = land_measurement_export(device_cloud.url, start, FILE_HOURS)
        say(f"landed {export.name}: the first {FILE_HOURS} hours as a bulk file")
        if not _run(say, "measurement_files_job"):
            return 1
        say("device cloud, quality suite and aggregates for every hour of the day (one run)")
        if not _run(say, "measurements_hourly_job", tags=hour_range_tags(start, end)):
            return 1
        step(9, "baselines every minute (frozen in activations) and validation documents")
        # From the hour before: the day's first minutes are forecast by baselines issued then.
        first_hour = start - timedelta(hours=1)
        if not _run(say, "validation_hourly_job", tags=hour_range_tags(first_hour, end)):
            return 1
        step(10, "settlement: TenneT's prices, delivery, TSO revenue, prosumer payouts, exports")
        settlement = Progress("settlement", 2, "runs", say)
        if not _run(say, "settlement_prices_job", quiet=True):
            return 1
        settlement.advance(note="prices loaded")
        if not _run(say, "settlement_job", partition_key=DEMO_DAY.isoformat(), quiet=True):
            return 1
        settlement.advance(note=f"{DEMO_DAY} settled and exported")
    finally:
        for service in (tso, device_cloud):
            service.stop()
    step(STEPS, "summary\n")
    for text in (
        summary_text(url),
        measurement_summary_text(url, start, end),
        validation_summary_text(url, start, end),
        flexibility_summary_text(url, start, end),
        bids_summary_text(url, start, end),
        activations_summary_text(url, start, end),
        settlement_summary_text(url, start, end),
    ):
        print(text)
        print()
    return 0
