"""Measurement ingest: N devices × H hours at 4 s, file → raw → checked, against references.

One run on the same server, in a scratch database ``vppal_bench_ingest``:

* the platform's path: :func:`integrations.measurements.loader.load_file` (read and check in
  Arrow, one COPY into the partitioned raw table, quarantine, duplicate resolution);
* reference 1, the physical floor: a plain ``COPY`` of the same file bytes into an unlogged
  table with the same three typed columns;
* reference 2, what a user would write: ``pandas.read_csv`` + ``DataFrame.to_sql`` (on a
  slice, it is slow; its rows/s is what compares).

Prints rows/s, seconds, ratios and peak memory. Goals (issue 3): the platform path at least
0.7x the plain COPY's rows/s; peak memory under 1 GiB whatever the file size.
Usage: python -m benchmarks.measurement_ingest [--devices 10000] [--hours 1]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg

from benchmarks._measure import machine, peak_rss_mib, timed
from integrations.database import admin
from integrations.database.urls import with_database

BENCH_DATABASE = "vppal_bench_ingest"
START = datetime(2025, 2, 27, 11, tzinfo=UTC)
PANDAS_ROWS = 300_000


def write_file(path: Path, devices: int, hours: int, step_s: int = 4) -> int:
    """Write the benchmark CSV (time-major, +01:00 offsets) with numpy; return its rows."""
    ids = np.array([f"DEV-{n:06d}" for n in range(1, devices + 1)])
    rng = np.random.default_rng(7)
    rows = 0
    local = timedelta(hours=1)
    with path.open("w", encoding="utf-8") as handle:
        handle.write("device_id,ts,power_w\n")
        for second in range(0, hours * 3600, step_s):
            stamp = (START + timedelta(seconds=second) + local).strftime("%Y-%m-%dT%H:%M:%S+01:00")
            power = np.round(rng.normal(1500.0, 400.0, devices), 1)
            handle.write("".join(f"{d},{stamp},{p}\n" for d, p in zip(ids, power, strict=True)))
            rows += devices
    return rows


def prepare_database(devices: int) -> str:
    """A fresh, migrated scratch database with ``devices`` registered (rated 5 kW)."""
    base = admin.prepare_database(lambda _line: None)
    url = with_database(base, BENCH_DATABASE)
    admin.drop_database(url)
    admin.ensure_database(url)
    admin.migrate(url)
    with psycopg.connect(url) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute(
            "create table marts.dim_devices as select 'DEV-' || lpad(n::text, 6, '0') as device_id,"
            " 5.0::numeric as rated_power_kw from generate_series(1, %s) as n",
            (devices,),
        )
    return url


def plain_copy(url: str, path: Path) -> float:
    """Seconds for a plain COPY of the file bytes into an unlogged typed table."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "create unlogged table bench_plain_copy"
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


def main() -> int:
    """Generate, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--hours", type=int, default=1)
    args = parser.parse_args()
    from integrations.measurements.loader import load_file

    url = prepare_database(args.devices)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "readings.csv"
        rows, generate_s = timed(lambda: write_file(path, args.devices, args.hours))
        size_mb = path.stat().st_size / 2**20
        copy_s = plain_copy(url, path)
        started = time.perf_counter()
        result = load_file(url, path)
        ours_s = time.perf_counter() - started
        ours_mib = peak_rss_mib()
        pandas_rows, pandas_s = pandas_to_sql(url, path)
    admin.drop_database(url)
    assert result.rows_loaded == rows, result

    print(f"measurement ingest, {args.devices:,} devices x {args.hours} h at 4 s ({machine()})")
    print(f"  file: {rows:,} rows, {size_mb:,.0f} MiB (generated in {generate_s:.1f} s)")
    table = [
        ("reference: plain COPY of the file", copy_s, rows),
        ("platform: file -> raw -> checked", ours_s, rows),
        (f"reference: pandas to_sql ({pandas_rows:,} rows)", pandas_s, pandas_rows),
    ]
    for label, seconds, count in table:
        print(f"  {label:<42}{seconds:8.2f} s {count / seconds:12,.0f} rows/s")
    ratio = (rows / ours_s) / (rows / copy_s)
    print(
        f"  platform / plain COPY (rows/s): {ratio:.2f}  (goal >= 0.7: "
        f"{'met' if ratio >= 0.7 else 'NOT met'})"
    )
    print(f"  platform / pandas to_sql (rows/s): {(rows / ours_s) / (pandas_rows / pandas_s):.0f}x")
    print(f"  peak memory of the platform path: {ours_mib:,.0f} MiB (goal < 1024 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
