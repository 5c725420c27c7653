"""Measurement ingest: N devices × H hours at 4 s, file → raw → checked → aggregated.

One run on the same server, in a scratch database (``vppal_bench_ingest``, or ``--database``):

* setup (not timed): a registry of N devices (``generate_fleet``) loaded and built with dbt,
  and a CSV of every device's power at 4 s from the simulator's profiles;
* reference 1, the physical floor: a plain ``COPY`` of the same file bytes into an unlogged
  table with the same three typed columns (the goal's reference), and the same into a logged
  table (what durable storage costs: the platform's raw table is logged);
* the platform: intake (:func:`integrations.measurements.loader.load_file`: hash, read and check
  in Arrow, one binary COPY into the partitioned raw table with per-hour counts, quarantine,
  duplicates, commit; timed around the call, in a process of its own for its peak memory),
  then the blocking quality suite (Great Expectations, set-based in PostgreSQL, GX's import
  included), then the hourly dbt aggregates (``dbt build`` as a process: the binned readings,
  energy per device and pool per ISP, pool power on its grid, their tests);
* reference 2, what a user would write: ``pandas.read_csv`` + ``DataFrame.to_sql`` (on a
  slice, it is slow; its rows/s is what compares).

Goals (issue 3): intake at least 0.7x the plain COPY's rows/s; 10,000 devices × 1 h (9 M rows)
landed, checked and aggregated in ≤ 60 s; peak memory under 1 GiB whatever the file size.
Usage: python -m benchmarks.measurement_ingest [--devices 10000] [--hours 1] [--database NAME]
[--keep] [--csv PATH]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from benchmarks._measure import machine, run_sampling_rss, timed
from integrations.database import admin
from integrations.database.resource import PostgresResource
from integrations.database.urls import EXTERNAL_URL_VARIABLE, with_database
from integrations.progress import Progress
from integrations.settings import DBT_PROJECT_DIR

BENCH_DATABASE = "vppal_bench_ingest"
START = datetime(2025, 2, 27, 10, tzinfo=UTC)
STEP_S = 4
PANDAS_ROWS = 300_000


def dbt(args: list[str]) -> tuple[float, float]:
    """Run dbt in the project against the benchmark database; (seconds, peak MiB)."""
    command = [str(Path(sys.executable).parent / "dbt"), *args, "--profiles-dir", ".", "--quiet"]
    return run_sampling_rss(command, cwd=str(DBT_PROJECT_DIR))


def prepare_database(devices: int, database: str) -> tuple[str, list[dict[str, str]]]:
    """A fresh database with a built registry of ``devices`` devices; return (url, devices)."""
    import os

    from integrations.registry.loader import load_registry
    from simulators.fleet import generate_fleet, write_batch

    base = admin.prepare_database(lambda _line: None)
    url = with_database(base, database)
    admin.drop_database(url)
    admin.ensure_database(url)
    admin.migrate(url)
    fleet = generate_fleet(devices)
    with tempfile.TemporaryDirectory() as folder:
        write_batch(fleet.tables(), Path(folder) / "registry" / "batch-0001")
        load_registry(url, Path(folder) / "registry")
    os.environ[EXTERNAL_URL_VARIABLE] = url
    PostgresResource().export_for_dbt()
    calendar = json.dumps({"isp_calendar_start": "2025-01-01", "isp_calendar_end": "2026-01-01"})
    dbt(["build", "--exclude", "tag:partitioned_hourly", "--vars", calendar])
    return url, fleet.devices


def write_file(path: Path, devices: list[dict[str, str]], hours: int) -> int:
    """Every device's simulated power at 4 s as CSV (time-major, +01:00 offsets)."""
    from simulators.profiles import device_power, load_real_profiles

    profiles = load_real_profiles()
    end = START + timedelta(hours=hours)
    steps = hours * 3600 // STEP_S
    local = timedelta(hours=1)
    stamps = pa.array(
        [
            (START + timedelta(seconds=i * STEP_S) + local).strftime("%Y-%m-%dT%H:%M:%S+01:00")
            for i in range(steps)
        ]
    )
    power = np.empty((steps, len(devices)))
    for column, device in enumerate(devices):
        power[:, column] = device_power(device, START, end, STEP_S, profiles)[1]
    ids = pa.array([device["device_id"] for device in devices])
    with path.open("wb") as sink:
        sink.write(b"device_id,ts,power_w\n")
        for chunk in range(0, steps, 50):
            rows = range(chunk, min(chunk + 50, steps))
            table = pa.table(
                {
                    "device_id": pa.concat_arrays([ids] * len(rows)),
                    "ts": stamps.take(np.repeat(np.array(rows), len(devices))),
                    "power_w": np.round(power[list(rows)].ravel(), 1),
                }
            )
            pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    return steps * len(devices)


def plain_copy(url: str, path: Path, logged: bool = False) -> float:
    """Seconds for a plain COPY of the file bytes into a typed table (unlogged by default)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            f"create {'' if logged else 'unlogged '}table bench_plain_copy"
            " (device_id text, ts timestamptz, power_w double precision)"
        )
        conn.commit()

        def run() -> None:
            with (
                conn.cursor().copy("copy bench_plain_copy from stdin (format csv, header)") as copy,
                path.open("rb") as handle,
            ):
                while chunk := handle.read(8 << 20):
                    copy.write(chunk)
            conn.commit()

        seconds = timed(run)[1]
        conn.execute("drop table bench_plain_copy")
    return seconds


def pandas_to_sql(url: str, path: Path) -> tuple[int, float]:
    """Rows and seconds of pandas read_csv + to_sql on the first rows, in a child process."""
    code = (
        "import sys, time, pandas as pd, sqlalchemy as sa\n"
        "from integrations.database.urls import sqlalchemy_url\n"
        "t = time.perf_counter()\n"
        f"frame = pd.read_csv(sys.argv[1], nrows={PANDAS_ROWS})\n"
        "frame['ts'] = pd.to_datetime(frame['ts'], utc=True)\n"
        "engine = sa.create_engine(sqlalchemy_url(sys.argv[2]))\n"
        "frame.to_sql('bench_to_sql', engine, if_exists='replace', index=False)\n"
        "print(len(frame), time.perf_counter() - t)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), url], capture_output=True, text=True, check=True
    )
    rows, seconds = done.stdout.split()
    return int(rows), float(seconds)


def line(label: str, seconds: float, rows: int | None = None, note: str = "") -> None:
    """Print one aligned row."""
    rate = f"{rows / seconds:12,.0f} rows/s" if rows else " " * 19
    print(f"  {label:<46}{seconds:8.2f} s {rate}  {note}".rstrip())


def main() -> int:
    """Set up, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--hours", type=int, default=1)
    parser.add_argument("--database", default=BENCH_DATABASE, help="scratch database (dropped)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database afterwards (to look into it)"
    )
    parser.add_argument(
        "--csv", type=Path, help="write the readings file here and keep it (reused if present)"
    )
    args = parser.parse_args()
    from integrations.quality.measurements import check_measurements

    steps = Progress("measurement ingest", 8, "steps")
    (url, devices), setup_s = timed(lambda: prepare_database(args.devices, args.database))
    steps.advance(note="registry and dbt set up")
    end = START + timedelta(hours=args.hours)
    with tempfile.TemporaryDirectory() as folder:
        path = args.csv or Path(folder) / "readings.csv"
        if path.exists():
            rows, generate_s = sum(1 for _ in path.open("rb")) - 1, 0.0
        else:
            rows, generate_s = timed(lambda: write_file(path, devices, args.hours))
        steps.advance(note=f"{rows:,} readings in the file")
        size_mib = path.stat().st_size / 2**20
        copy_s = plain_copy(url, path)
        steps.advance(note="COPY reference (unlogged)")
        logged_copy_s = plain_copy(url, path, logged=True)
        steps.advance(note="COPY reference (logged)")
        # The intake runs in a process of its own, so its peak memory is its own (sampled). Its
        # time is that of load_file (hash, connect, read, check, COPY, quarantine, duplicates,
        # commit), as the COPY's is that of the COPY: not the interpreter's start and imports.
        code = (
            "import json, sys, time; from pathlib import Path\n"
            "from integrations.measurements.loader import load_file\n"
            "t = time.perf_counter()\n"
            "r = load_file(sys.argv[1], Path(sys.argv[2]))\n"
            "Path(sys.argv[3]).write_text(json.dumps({'loaded': r.rows_loaded, "
            "'quarantined': r.rows_quarantined, 'reasons': r.quarantined_by_reason, "
            "'seconds': r.seconds, 'load_file': time.perf_counter() - t}))\n"
        )
        report_path = Path(folder) / "intake.json"
        process_s, intake_mib = run_sampling_rss(
            [sys.executable, "-c", code, url, str(path), str(report_path)]
        )
        intake = json.loads(report_path.read_text())
        intake_s = intake["load_file"]
        steps.advance(note="platform intake")
        report, check_s = timed(lambda: check_measurements(url, START, end))
        steps.advance(note="quality suite")
        window = json.dumps({"min_ts": START.isoformat(), "max_ts": end.isoformat()})
        dbt_s, dbt_mib = dbt(["build", "--select", "tag:partitioned_hourly", "--vars", window])
        steps.advance(note="dbt hourly aggregates")
        pandas_rows, pandas_s = pandas_to_sql(url, path)
        steps.advance(note="pandas to_sql reference")
    with psycopg.connect(url) as conn:
        pool_isps = conn.execute("select count(*) from marts.fct_pool_energy_isp").fetchone()[0]
    if not args.keep:
        admin.drop_database(url)

    total = intake_s + check_s + dbt_s
    ratio = (rows / intake_s) / (rows / copy_s)
    print(f"measurement ingest, {args.devices:,} devices x {args.hours} h at 4 s ({machine()})")
    print(f"  setup (not timed): registry + dbt {setup_s:.0f} s, file {generate_s:.0f} s")
    print(
        f"  file: {rows:,} rows, {size_mib:,.0f} MiB; loaded {intake['loaded']:,}, "
        f"quarantined {intake['quarantined']:,} {intake['reasons'] or ''}"
    )
    line("reference: plain COPY into an unlogged table", copy_s, rows)
    line("reference: plain COPY into a logged table", logged_copy_s, rows)
    line(
        "platform intake: file -> raw -> checked",
        intake_s,
        rows,
        f"{ratio:.2f}x the unlogged COPY rate (goal >= 0.7),"
        f" {logged_copy_s / intake_s:.2f}x the logged one",
    )
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in intake["seconds"].items())
    print(f"    phases: {phases}; the process as a whole {process_s:.1f} s (start, imports)")
    line(
        "quality suite (Great Expectations)",
        check_s,
        rows,
        "passed" if report.success else "FAILED",
    )
    line("dbt hourly aggregates", dbt_s, rows, f"{pool_isps} pool-ISP rows")
    line(
        "landed + checked + aggregated",
        total,
        rows,
        f"goal <= 60 s: {'met' if total <= 60 else 'NOT met'}",
    )
    line(
        f"reference: pandas to_sql ({pandas_rows:,} rows)",
        pandas_s,
        pandas_rows,
        f"intake is {(rows / intake_s) / (pandas_rows / pandas_s):.0f}x faster",
    )
    print(
        f"  peak memory (sampled): intake process {intake_mib:,.0f} MiB (goal < 1024), "
        f"dbt {dbt_mib:,.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
