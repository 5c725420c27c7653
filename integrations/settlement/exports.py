"""CSV and Parquet exports of the finance tables, one folder per settled local day.

``var/exports/finance/<day>/`` holds, for the day, each finance table as ``<table>.csv`` and
``<table>.parquet`` plus ``manifest.json`` (rows, SHA-256 of every file, the settlement runs
and their input digests). The rows are read from the ``finance`` schema, as finance sees them:

* ``settlement_tso_isp`` and ``settlement_prosumer_isp``: every version of the day's ISPs;
* ``prosumer_statements``: the statement versions the day's settlement runs created (over all
  day folders of a month, each version appears once).

Money stays exact: CSV writes the decimal text as stored (``9.73``), Parquet uses
``decimal128`` with the column's precision and scale. Timestamps are UTC, ISO 8601 with offset
in CSV. Every file is written to a temporary name and renamed, so a reader never sees half a
file; a re-run rewrites the folder with the rows as they are then (versions only grow).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from domain.settlement.day import day_bounds
from integrations.settings import VAR_DIR

EXPORTS_DIR = VAR_DIR / "exports" / "finance"

#: Each finance table and how the day's slice of it is selected, in a stable order.
EXPORTS: dict[str, str] = {
    "settlement_tso_isp": (
        "select * from finance.settlement_tso_isp where isp_start >= %(start)s"
        " and isp_start < %(end)s order by pool_id, isp_start, statement_version"
    ),
    "settlement_prosumer_isp": (
        "select * from finance.settlement_prosumer_isp where isp_start >= %(start)s"
        " and isp_start < %(end)s"
        " order by customer_pseudonym, device_id, pool_id, isp_start, statement_version"
    ),
    "prosumer_statements": (
        "select * from finance.prosumer_statements where settlement_date = %(day)s"
        " order by customer_pseudonym, month, statement_version"
    ),
}

# PostgreSQL type OIDs of the columns the finance tables use.
_NUMERIC, _TEXT, _INT2, _INT4, _INT8, _BOOL, _DATE, _TIMESTAMPTZ = (
    1700,
    25,
    21,
    23,
    20,
    16,
    1082,
    1184,
)


@dataclass(frozen=True)
class ExportedTable:
    """One table written for a day."""

    table: str
    rows: int
    csv_path: Path
    parquet_path: Path


def _arrow_type(column: psycopg.Column) -> Any:
    import pyarrow as pa

    code = column.type_code
    if code == _NUMERIC:
        if column.precision is None or column.scale is None:
            raise ValueError(f"column {column.name} is numeric without precision and scale")
        return pa.decimal128(column.precision, column.scale)
    types = {
        _TEXT: pa.string(),
        _INT2: pa.int16(),
        _INT4: pa.int32(),
        _INT8: pa.int64(),
        _BOOL: pa.bool_(),
        _DATE: pa.date32(),
        _TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
    }
    if code not in types:
        raise ValueError(f"column {column.name} has a type (oid {code}) the export does not map")
    return types[code]


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal | date):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _replace(path: Path, write: Any) -> None:
    draft = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(draft)
    os.replace(draft, path)


def write_table(
    folder: Path, table: str, columns: list[psycopg.Column], rows: list[tuple[Any, ...]]
) -> ExportedTable:
    """Write one table's rows as CSV and Parquet into ``folder``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [column.name for column in columns]
    csv_path, parquet_path = folder / f"{table}.csv", folder / f"{table}.parquet"

    def write_csv(path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            writer.writerows([_csv_cell(value) for value in row] for row in rows)

    schema = pa.schema([pa.field(c.name, _arrow_type(c)) for c in columns])
    arrow = pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in rows], schema)
    _replace(csv_path, write_csv)
    _replace(parquet_path, lambda path: pq.write_table(arrow, path))
    return ExportedTable(table, len(rows), csv_path, parquet_path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_day(url: str, local_date: date, root: Path | None = None) -> list[ExportedTable]:
    """Export every finance table's rows of ``local_date``; return what was written."""
    folder = (root or EXPORTS_DIR) / local_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    start, end = day_bounds(local_date)
    params = {"start": start, "end": end, "day": local_date}
    exported = []
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        for table, sql in EXPORTS.items():
            cursor = conn.execute(sql, params)
            rows = cursor.fetchall()
            exported.append(write_table(folder, table, list(cursor.description or []), rows))
        runs = conn.execute(
            "select settlement_id, inputs_digest, computed_at from raw.settlement_runs"
            " where local_date = %s order by settlement_id",
            (local_date,),
        ).fetchall()
    manifest = {
        "local_date": local_date.isoformat(),
        "exported_at": datetime.now(UTC).isoformat(),
        "settlement_runs": [
            {"settlement_id": s, "inputs_digest": d, "computed_at": c.isoformat()}
            for s, d, c in runs
        ],
        "tables": {
            e.table: {
                "rows": e.rows,
                "csv": {"file": e.csv_path.name, "sha256": _sha256(e.csv_path)},
                "parquet": {"file": e.parquet_path.name, "sha256": _sha256(e.parquet_path)},
            }
            for e in exported
        },
    }
    _replace(
        folder / "manifest.json",
        lambda path: path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8"),
    )
    return exported
