"""Activation to device setpoints, through the real daemon: p50/p95 per step.

Setup, all on this machine: a benchmark database with the sample registry (``registry_job``
in process), the TSO and device-cloud simulators in this process, and ``dagster-daemon run``
on a benchmark instance using the project's ``dagster.yaml`` (or ``--direct``: the default run
coordinator instead of the queued one). Only ``tso_activation_sensor`` runs; the others are
stopped first.

Then 50 activations are published by the TSO simulator's feed, one every ``--spacing``
seconds, and for each the script reads (wall clock): published → acknowledged (the TSO
received the acknowledgement) → setpoints sent (``raw.dispatch_runs.setpoints_sent_at``) →
answered (the TSO received the activation response). The goal is p95 ≤ 8 s end to end.

Reference, same run: the same dispatch work executed in process without the daemon
(``dispatch_job.execute_in_process``) for 10 activations: what the run itself costs, so the
difference is the sensor interval, the run launch and the code load.

The sensor dispatches in its tick by default (``integrations/dispatch/in_tick.py``); run with
``VPPAL_DISPATCH_IN_TICK=0`` to measure the dispatch inside the runs, as before.

Usage: python -m benchmarks.dispatch_latency [--activations 50] [--spacing 3] [--direct]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

BENCH_DATABASE = "vppal_bench_dispatch"
POOL = "POOL-AFRR-1"
FIRST_ISP = datetime(2025, 2, 27, 10, tzinfo=UTC)


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _seconds(later: str | datetime | None, earlier: str | datetime) -> float | None:
    if later is None:
        return None
    to = datetime.fromisoformat(later) if isinstance(later, str) else later
    since = datetime.fromisoformat(earlier) if isinstance(earlier, str) else earlier
    return (to - since).total_seconds()


def prepare(url: str) -> None:
    """A fresh benchmark database and Dagster storage with the sample registry built."""
    import dagster as dg

    from integrations.database import admin
    from integrations.database.urls import with_database
    from integrations.settings import SAMPLE_DATA_DIR, VAR_DIR
    from orchestration.definitions import defs
    from orchestration.resources import build_resources

    admin.drop_database(url)
    admin.ensure_database(url)
    admin.migrate(url)
    storage = with_database(url, f"{BENCH_DATABASE}_dagster")
    admin.drop_database(storage)
    admin.ensure_database(storage)
    landing = VAR_DIR / "bench" / "dispatch" / "landing"
    shutil.rmtree(landing, ignore_errors=True)
    shutil.copytree(SAMPLE_DATA_DIR / "registry", landing / "registry")
    result = defs.resolve_job_def("registry_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        resources=build_resources(),
        run_config={
            "ops": {"raw_registry": {"config": {"folder": str(landing / "registry")}}},
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        },
    )
    if not result.success:
        raise SystemExit("registry_job failed on the benchmark database")


def instance_home(direct: bool) -> Path:
    """A DAGSTER_HOME with the project's dagster.yaml (optionally the direct coordinator)."""
    from integrations.settings import PROJECT_ROOT, VAR_DIR

    home = VAR_DIR / "bench" / "dispatch" / "dagster_home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    text = (PROJECT_ROOT / "dagster.yaml").read_text()
    if direct:
        start = text.index("run_coordinator:")
        end = text.index("\n\n", start)
        text = (
            text[:start]
            + (
                "run_coordinator:\n  module: dagster.core.run_coordinator\n"
                "  class: DefaultRunCoordinator"
            )
            + text[end:]
        )
    (home / "dagster.yaml").write_text(text)
    return home


def reference(n: int, feed, url: str) -> list[float]:
    """Seconds of the dispatch run itself, in process (sensor intake + job), per activation."""
    import dagster as dg

    from domain.cim.activation import ActivatedBid
    from integrations.progress import Progress
    from orchestration.definitions import defs
    from orchestration.resources import build_resources
    from sensors.activations import evaluate_activations

    resources = build_resources()
    job = defs.resolve_job_def("dispatch_job")
    instance = dg.DagsterInstance.ephemeral()
    cursor = None
    seconds = []
    progress = Progress("  in process", n, "activations")
    for i in range(n):
        start = FIRST_ISP + timedelta(hours=12, minutes=15 * i)
        feed.publish_activation(
            pool_id=POOL,
            market="afrr",
            direction="up",
            valid_from=start,
            valid_to=start + timedelta(minutes=15),
            bids=(ActivatedBid(f"B-REF-{i}", Decimal("0.500")),),
        )
        began = time.perf_counter()
        requests, keys, cursor, _ = evaluate_activations(
            cursor, resources["tso"], resources["postgres"]
        )
        instance.add_dynamic_partitions("activations", keys)
        for request in requests:
            job.execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                resources=resources,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
        seconds.append(time.perf_counter() - began)
        progress.advance()
    return seconds


def main() -> int:
    """Set up, run the daemon, publish, measure, print."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dispatch_latency")
    parser.add_argument("--activations", type=int, default=50)
    parser.add_argument("--spacing", type=float, default=3.0)
    parser.add_argument("--direct", action="store_true", help="DefaultRunCoordinator")
    args = parser.parse_args()

    from integrations.database.admin import prepare_database
    from integrations.database.urls import EXTERNAL_URL_VARIABLE, with_database
    from integrations.dispatch.in_tick import enabled as in_tick_enabled

    base = prepare_database(lambda _line: None)
    url = with_database(base, BENCH_DATABASE)
    os.environ[EXTERNAL_URL_VARIABLE] = url
    os.environ.setdefault("VPPAL_ENV", "ci")

    from domain.cim.activation import ActivatedBid
    from integrations.database.urls import dagster_storage_url
    from integrations.progress import Progress
    from integrations.secrets import load_tso_signing_key
    from orchestration.instance import QUIET_TELEMETRY
    from simulators.activation_feed import ActivationFeed
    from simulators.serve import start_simulators

    feed = ActivationFeed(signing_key=load_tso_signing_key)
    tso, device_cloud = start_simulators(activations=feed)
    os.environ["VPPAL_TSO_URL"] = tso.url
    os.environ["VPPAL_DEVICE_CLOUD_URL"] = device_cloud.url
    print(f"setting up {BENCH_DATABASE} with the sample registry ...", flush=True)
    prepare(url)
    home = instance_home(args.direct)
    env = {
        **os.environ,
        **QUIET_TELEMETRY,
        "DAGSTER_HOME": str(home),
        "VPPAL_DAGSTER_STORAGE_URL": dagster_storage_url(),
        "VPPAL_DAGSTER_ARTIFACTS": str(home / "storage"),
        "VPPAL_DAGSTER_COMPUTE_LOGS": str(home / "logs"),
    }
    bin_dir = Path(sys.executable).parent
    workspace = ["-m", "orchestration.definitions"]
    others = [
        "registry_landing_sensor",
        "measurement_files_sensor",
        "measurement_hours_sensor",
        "measurement_freshness_sensor",
        "settlement_sensor",
    ]
    for name in others:
        subprocess.run(
            [str(bin_dir / "dagster"), "sensor", "stop", *workspace, name],
            env=env,
            capture_output=True,
            check=False,
        )
    print("reference: the same dispatch in process, no daemon (10 activations) ...", flush=True)
    in_process = reference(10, feed, url)
    print("starting dagster-daemon and publishing the activations ...", flush=True)
    daemon = subprocess.Popen(
        [str(bin_dir / "dagster-daemon"), "run", *workspace],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(15)  # the daemon loads the code and starts its sensor loop
        published: dict[str, str] = {}
        publishing = Progress("  published", args.activations, "activations", every_s=10)
        for i in range(args.activations):
            start = FIRST_ISP + timedelta(minutes=15 * (i % 8), days=1 + i // 8)
            item = feed.publish_activation(
                pool_id=POOL,
                market="afrr",
                direction="up",
                valid_from=start,
                valid_to=start + timedelta(minutes=15),
                bids=(ActivatedBid(f"B-BENCH-{i}", Decimal("0.500")),),
            )
            published[item.mrid] = item.published_at_wall.isoformat()
            time.sleep(args.spacing)
            publishing.advance()
        deadline = time.monotonic() + 120
        answering = Progress("  answered", len(published), "activations", every_s=10)
        while time.monotonic() < deadline:
            done = [
                a
                for a in feed.timeline()["activations"]
                if a["document_mrid"] in published and a["responses"]
            ]
            if len(done) > answering.done:
                answering.advance(len(done) - answering.done)
            if len(done) == len(published):
                break
            time.sleep(1)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=30)
        tso.stop()
        device_cloud.stop()

    import psycopg

    with psycopg.connect(url) as conn:
        sent = dict(
            conn.execute(
                "select activation_id, setpoints_sent_at from raw.dispatch_runs"
            ).fetchall()
        )
    ack, setpoints, answered, missing = [], [], [], 0
    for entry in feed.timeline()["activations"]:
        mrid = entry["document_mrid"]
        if mrid not in published:
            continue
        at = published[mrid]
        acks = [a["received_at_wall"] for a in entry["acknowledgements"]]
        responses = [a["received_at_wall"] for a in entry["responses"]]
        if not acks or not responses or mrid not in sent:
            missing += 1
            continue
        ack.append(_seconds(min(acks), at))
        setpoints.append(_seconds(sent[mrid], at))
        answered.append(_seconds(min(responses), at))
    coordinator = "DefaultRunCoordinator (direct)" if args.direct else "project dagster.yaml"
    print(f"\n{args.activations} activations, one every {args.spacing:.1f} s; {coordinator};")
    tick = "in the sensor's tick" if in_tick_enabled() else "in the runs (VPPAL_DISPATCH_IN_TICK=0)"
    print(f"dispatched {tick}; sensor minimum interval 1 s\n")
    print(f"{'step (from publication, wall clock)':<44}{'p50 s':>8}{'p95 s':>8}{'max s':>8}")
    for name, values in (
        ("-> acknowledgement at the TSO", ack),
        ("-> device setpoints sent", setpoints),
        ("-> activation response at the TSO", answered),
        ("reference: intake + run in process, no daemon", in_process),
    ):
        if values:
            p50, p95 = statistics.median(values), percentile(values, 0.95)
            print(f"{name:<44}{p50:>8.2f}{p95:>8.2f}{max(values):>8.2f}")
    print(f"\nnot completed within 2 minutes: {missing}; goal p95 <= 8 s end to end")
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
