"""Registry build for 100,000 devices: intake (validate + load) and the dbt registry models.

Steps, each timed: generate the fleet and write it as a landing batch (CSV); load it through
the intake rules into the raw tables; ``dbt build`` of the registry models with their tests.
Reference in the same run: PostgreSQL's own ``COPY`` of the same CSV files into unlogged text
tables, the floor for moving these bytes into the database. Goal: intake + dbt <= 60 s.

Runs in a database of its own (``vppal_bench``) on the embedded server or VPPAL_DATABASE_URL.
Usage: python -m benchmarks.registry_build [--devices N]
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import psycopg

from benchmarks._measure import machine, peak_rss_mib, run_sampling_rss, timed
from domain.registry import ENTITY_COLUMNS
from integrations.database import admin
from integrations.database.resource import PostgresResource
from integrations.database.urls import EXTERNAL_URL_VARIABLE, with_database
from integrations.progress import Progress
from integrations.registry.loader import load_registry
from integrations.settings import DBT_PROJECT_DIR
from simulators.fleet import generate_fleet, write_batch


def copy_reference(url: str, batch: Path) -> tuple[int, float]:
    """COPY every CSV of ``batch`` into unlogged all-text tables; return rows and seconds."""

    def run() -> int:
        rows = 0
        with psycopg.connect(url) as conn:
            for path in sorted(batch.glob("*.csv")):
                columns = ENTITY_COLUMNS[path.stem]
                table = f"bench_copy_{path.stem}"
                conn.execute(f"drop table if exists {table}")
                conn.execute(
                    f"create unlogged table {table} ({', '.join(f'{c} text' for c in columns)})"
                )
                with conn.cursor().copy(f"copy {table} from stdin (format csv, header)") as copy:
                    copy.write(path.read_bytes())
                rows += conn.execute(f"select count(*) from {table}").fetchone()[0]
                conn.execute(f"drop table {table}")
        return rows

    return timed(run)


def dbt_build(url: str) -> tuple[float, float]:
    """``dbt build`` of the registry models and tests against ``url``; seconds and peak MiB."""
    os.environ[EXTERNAL_URL_VARIABLE] = url
    PostgresResource().export_for_dbt()
    dbt = str(Path(sys.executable).parent / "dbt")
    return run_sampling_rss(
        [dbt, "build", "--select", "path:models", "--profiles-dir", ".", "--quiet"],
        cwd=str(DBT_PROJECT_DIR),
    )


def line(label: str, seconds: float, rows: int | None = None, note: str = "") -> None:
    """Print one aligned row: label, seconds, rows/s when given, a note."""
    rate = f"{rows / seconds:10,.0f} rows/s" if rows else " " * 17
    print(f"  {label:<38}{seconds:7.2f} s  {rate}  {note}".rstrip())


def main() -> int:
    """Print each step's time and rate beside the COPY reference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    args = parser.parse_args()

    base = admin.prepare_database(lambda _line: None)
    url = with_database(base, "vppal_bench")
    admin.drop_database(url)
    admin.ensure_database(url)
    admin.migrate(url)

    progress = Progress("registry build", 5, "steps")
    with tempfile.TemporaryDirectory() as folder:
        landing = Path(folder) / "registry"
        fleet, generate_s = timed(lambda: generate_fleet(args.devices))
        write_batch(fleet.tables(), landing / "batch-0001")
        progress.advance(note="fleet generated")
        rows = sum(len(rows) for rows in fleet.tables().values())
        reference_rows, reference_s = copy_reference(url, landing / "batch-0001")
        progress.advance(note="COPY reference")
        report, intake_s = timed(lambda: load_registry(url, landing))
        progress.advance(note="intake")
        reload_report, reload_s = timed(lambda: load_registry(url, landing))
        progress.advance(note="reload")
    dbt_s, dbt_mib = dbt_build(url)
    progress.advance(note="dbt build")
    own_mib = peak_rss_mib()
    admin.drop_database(url)

    assert reference_rows == rows and sum(report.rows_changed.values()) == rows
    assert not reload_report.files_loaded and report.quarantined_total == 0
    total = intake_s + dbt_s
    goal = "met" if total <= 60 else "NOT met"
    print(f"registry build, {args.devices:,} devices ({machine()})")
    print(f"  records in the batch: {rows:,} (7 files)")
    line("generate fleet (not counted)", generate_s)
    line("reference: COPY of the CSV bytes", reference_s, rows)
    line(
        "intake: read, validate, COPY, commit",
        intake_s,
        rows,
        f"({intake_s / reference_s:.1f}x the reference)",
    )
    line("reload of the same files (skipped)", reload_s)
    line("dbt build: registry models and tests", dbt_s)
    line("total intake + dbt", total, note=f"(goal <= 60 s: {goal})")
    print(f"  peak memory: intake (this process) {own_mib:,.0f} MiB, dbt {dbt_mib:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
