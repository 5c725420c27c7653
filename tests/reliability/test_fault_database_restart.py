"""The database restarts (cleanly, or as a crash) in the middle of a materialisation.

A private embedded PostgreSQL (own data folder and port; the project's shared server is never
touched) is migrated, and ``landing/measurement_files`` is materialised with Dagster on a file
of two UTC days' readings. The timing is made deterministic with a lock held from another
connection: the load is caught either between its two days' COPY streams (the first day's rows
written, the second day's leaf locked) or just before commit (``ops.quarantine`` locked). The
server is then restarted. The run must fail (not hang) with the connection error, leave no row
behind, and a rerun must give exactly what one clean run gives in a database of its own.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from integrations.database import admin
from integrations.database.embedded import EmbeddedPostgres, wait_until_accepting
from integrations.database.resource import PostgresResource
from integrations.database.urls import with_database
from integrations.measurements.store import ensure_day_partition
from integrations.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

DAY_ONE = datetime(2025, 2, 26, tzinfo=UTC)
DAY_TWO = DAY_ONE + timedelta(days=1)
FIRST_TS = DAY_TWO - timedelta(hours=1)  # one hour of each day, at 4 s
DEVICES = [("DR-BAT", "battery", 5.0), ("DR-HP", "heat_pump", 6.0), ("DR-PV", "pv_inverter", 4.0)]
BAD_LINES = [
    "DR-BAT,2025-02-26T23:30:02+00:00,NaN",  # non_finite_power
    "DR-XX,2025-02-26T23:30:02+00:00,100",  # unknown_device
    "DR-HP,2025-02-27T00:30:02,100",  # timestamp_without_offset
]
READINGS_PER_DEVICE = 2 * 900
RUN_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def private_server(tmp_path_factory) -> Iterator[tuple[EmbeddedPostgres, int]]:
    """A PostgreSQL server of this module's own; stopped at the end, whatever happens."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("private-pg"))
    port = _free_port()
    try:
        server.start(port=port)
        yield server, port
    finally:
        try:
            server.stop("fast")
        except RuntimeError:
            server.stop("immediate")


def _database(server: EmbeddedPostgres, name: str) -> str:
    """A fresh, migrated database on the private server, with the test devices registered."""
    url = with_database(server.url("postgres"), name)
    admin.drop_database(url)
    admin.ensure_database(url)
    admin.migrate(url)
    with psycopg.connect(url) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute(
            "create table marts.dim_devices (device_id text primary key, site_id text,"
            " device_type text, rated_power_kw numeric, controllable boolean)"
        )
        for device_id, device_type, rated in DEVICES:
            conn.execute(
                "insert into marts.dim_devices values (%s, 'DR-SITE', %s, %s, true)",
                (device_id, device_type, rated),
            )
    return url


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    """A landing folder with one file: two hours across midnight UTC, three bad lines."""
    folder = tmp_path_factory.mktemp("landing-measurements")
    lines = ["device_id,ts,power_w"]
    for step in range(READINGS_PER_DEVICE):
        ts = (FIRST_TS + timedelta(seconds=4 * step)).isoformat()
        lines += [f"{device_id},{ts},{100 + step % 50}" for device_id, _, _ in DEVICES]
    lines[READINGS_PER_DEVICE:READINGS_PER_DEVICE] = BAD_LINES  # in the middle of the file
    (folder / "readings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _materialize(url: str, folder: Path) -> dg.ExecuteInProcessResult:
    from assets.measurements.files import measurement_files

    return dg.materialize(
        [measurement_files],
        resources={"postgres": PostgresResource(url_override=url)},
        run_config={"ops": {"landing__measurement_files": {"config": {"folder": str(folder)}}}},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


#: The faulted run, in a process of its own (as the daemon launches runs): materialise, then
#: print the outcome as JSON on the last line.
RUN_IN_A_PROCESS = """
import json, sys, time
import dagster as dg
from assets.measurements.files import measurement_files
from integrations.database.resource import PostgresResource
url, folder = sys.argv[1:3]
result = dg.materialize(
    [measurement_files],
    resources={"postgres": PostgresResource(url_override=url)},
    run_config={"ops": {"landing__measurement_files": {"config": {"folder": folder}}}},
    instance=dg.DagsterInstance.ephemeral(),
    raise_on_error=False,
)
texts = []
for event in result.get_step_failure_events():
    error = event.step_failure_data.error
    while error is not None:
        texts.append(error.message)
        error = error.cause
print(json.dumps({"success": result.success, "failure": "\\n".join(texts),
                  "finished_at": time.time()}))
"""


def _snapshot(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {
            "readings": conn.execute(
                "select device_id, ts, power_w from raw.device_measurements order by 1, 2"
            ).fetchall(),
            "duplicates": conn.execute(
                "select device_id, ts from raw.device_measurements group by 1, 2"
                " having count(*) > 1"
            ).fetchall(),
            "quarantine": conn.execute(
                "select source, source_line, reason_code from ops.quarantine order by 2"
            ).fetchall(),
            "loads": conn.execute(
                "select source, source_key, rows_total, rows_loaded, rows_quarantined"
                " from raw.measurement_loads where replaced_by is null"
            ).fetchall(),
            "hours": conn.execute(
                "select hour_start, device_id, readings from raw.measurement_load_hours"
                " order by 1, 2"
            ).fetchall(),
        }


@pytest.fixture(scope="module")
def reference(private_server, landing) -> dict[str, list[tuple]]:
    """What one clean run gives, in a database of its own."""
    server, _ = private_server
    url = _database(server, "vppal_reference")
    assert _materialize(url, landing).success
    snapshot = _snapshot(url)
    assert len(snapshot["readings"]) == len(DEVICES) * READINGS_PER_DEVICE
    assert len(snapshot["quarantine"]) == len(BAD_LINES)
    return snapshot


def _blocked(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        waiting = conn.execute(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
            " and datname = current_database()"
        ).fetchone()[0]
    return waiting > 0


@pytest.mark.parametrize(
    ("mode", "held"),
    [("fast", "second_day"), ("immediate", "quarantine")],
    ids=["clean-restart-between-the-days-copies", "crash-just-before-commit"],
)
def test_a_restart_mid_run_fails_it_cleanly_and_the_rerun_loads_everything_once(
    private_server, landing, reference, mode, held, record_property
):
    server, port = private_server
    url = _database(server, f"vppal_restart_{mode}")
    leaf_one = f"raw.device_measurements_{DAY_ONE:%Y%m%d}"
    holder = psycopg.connect(url)
    ensure_day_partition(holder, DAY_ONE)  # committed, so its size can be read while loading
    leaf_two = ensure_day_partition(holder, DAY_TWO)
    holder.commit()
    if held == "second_day":  # the first day's COPY runs, the second day's waits
        holder.execute(sql.SQL("lock table {} in exclusive mode").format(leaf_two))
    else:  # every row is copied, the quarantine insert before commit waits
        holder.execute("lock table ops.quarantine in exclusive mode")

    run = subprocess.Popen(  # a run process of its own, as the daemon launches them
        [sys.executable, "-c", RUN_IN_A_PROCESS, url, str(landing)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not _blocked(url):
        assert run.poll() is None and time.monotonic() < deadline, "the load never blocked"
        time.sleep(0.05)
    with psycopg.connect(url, autocommit=True) as conn:
        landed_bytes = conn.execute("select pg_relation_size(%s)", (leaf_one,)).fetchone()[0]
    assert landed_bytes > 0  # the first day's rows are written, not yet committed

    restarted_at = time.time()
    server.stop(mode)
    stopped_after = time.time() - restarted_at
    server.start(port=port)
    wait_until_accepting(url)
    back_after = time.time() - restarted_at
    try:
        output, _ = run.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        run.kill()
        raise AssertionError("the run hangs after the restart") from None
    holder.close()

    outcome = json.loads(output.strip().splitlines()[-1])
    failed_after = outcome["finished_at"] - restarted_at
    assert not outcome["success"]
    text = outcome["failure"]
    assert "connection" in text.lower() or "terminat" in text.lower(), text
    after_failure = _snapshot(url)
    assert after_failure == {"readings": [], "duplicates": [], "quarantine": [], "loads": [],
                             "hours": []}  # fmt: skip

    rerun = _materialize(url, landing)
    assert rerun.success
    assert _snapshot(url) == reference
    record_property(
        f"restart_{mode}",
        {
            "stop_s": round(stopped_after, 2),
            "accepting_again_s": round(back_after, 2),
            "run_failed_s": round(failed_after, 2),
        },
    )
