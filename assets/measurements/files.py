"""Bulk backfills: measurement files landed in ``var/landing/measurements/``."""

import json
from pathlib import Path

import dagster as dg

from assets.measurements.quarantine_metadata import quarantine_metadata
from integrations.database.resource import PostgresResource
from integrations.settings import LANDING_DIR

# I/O modules are imported inside the asset body (see device_cloud.py).

FILE_SUFFIXES = (".csv", ".parquet")


class MeasurementFilesConfig(dg.Config):
    """Where measurement files land."""

    folder: str = str(LANDING_DIR / "measurements")


@dg.asset(
    key=["landing", "measurement_files"],
    group_name="measurements",
    deps=[dg.AssetKey(["marts", "dim_devices"])],
    kinds={"python", "postgres"},
    owners=["team:data-platform"],
)
def measurement_files(
    context: dg.AssetExecutionContext, config: MeasurementFilesConfig, postgres: PostgresResource
) -> dg.MaterializeResult:
    """Load every landed file not loaded before (once per content); report the hours touched.

    The ``hours_touched`` metadata tells the measurement-hours sensor which hourly partitions
    to check and aggregate again.
    """
    from integrations.measurements.loader import load_file

    folder = Path(config.folder)
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in FILE_SUFFIXES)
    hours: set[str] = set()
    table = [
        "| file | rows | loaded | quarantined | duplicates | conflicts | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    reasons: dict[str, int] = {}
    loaded = skipped = 0
    for path in files:
        result = load_file(postgres.url, path)
        if result.skipped:
            skipped += 1
            continue
        loaded += 1
        hours.update(hour.strftime("%Y-%m-%d-%H:%M") for hour in result.hours())
        for code, count in result.quarantined_by_reason.items():
            reasons[code] = reasons.get(code, 0) + count
        table.append(
            f"| {path.name} | {result.rows_total:,} | {result.rows_loaded:,} | "
            f"{result.rows_quarantined:,} | {result.rows_duplicate:,} | "
            f"{result.rows_conflicting:,} | {sum(result.seconds.values()):.1f} |"
        )
        context.log.info("%s: %s", path.name, result)
    return dg.MaterializeResult(
        metadata={
            "files_loaded": dg.MetadataValue.int(loaded),
            "files_skipped": dg.MetadataValue.int(skipped),
            "loads": dg.MetadataValue.md("\n".join(table)),
            **quarantine_metadata(reasons),
            "hours_touched": dg.MetadataValue.text(json.dumps(sorted(hours))),
        }
    )
