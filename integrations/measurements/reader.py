"""Read measurement files (CSV or Parquet) as a stream of Arrow batches with line numbers.

Memory stays bounded whatever the file size: files are read block by block. Rows the CSV
parser cannot split into three fields are reported as malformed with their physical line;
the rows around them are kept. A quote that spans lines (left open, or a line break inside a
quoted value) makes the fast reader give up, so the file is read again line by line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

COLUMNS = ("device_id", "ts", "power_w")
# Blocks of 4 MB (about 90,000 readings): small enough that the blocks in flight (being read,
# judged, queued and copied) stay well under 1 GB, large enough for vectorised work to dominate.
BLOCK_BYTES = 4 << 20
PARQUET_BATCH_ROWS = 100_000


@dataclass
class MalformedRow:
    """A line the parser could not read as one record."""

    line: int
    text: str
    reason: str


@dataclass
class RawBatch:
    """Columns of one block, and the file line of each row (header = line 1)."""

    device_id: pa.Array
    ts: pa.Array
    power_w: pa.Array
    lines: np.ndarray


@dataclass
class MeasurementFile:
    """A landed file: its batches are read lazily; malformed rows collect while reading."""

    path: Path
    content_sha256: str
    malformed: list[MalformedRow] = field(default_factory=list)
    has_quotes: bool = True  # False when the file holds no '"': no value can span lines

    @property
    def source(self) -> str:
        """How quarantine rows name this file."""
        return f"measurements/{self.path.name}"


def _scan(path: Path) -> tuple[str, bool]:
    """Content hash and whether the file holds a quote character, streamed."""
    digest = hashlib.sha256()
    quotes = False
    with path.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
            quotes = quotes or b'"' in chunk
    return digest.hexdigest(), quotes


def file_sha256(path: Path) -> str:
    """Content hash, streamed."""
    return _scan(path)[0]


def open_measurement_file(path: Path) -> MeasurementFile:
    """Hash the file; reading happens in :func:`batches`."""
    digest, quotes = _scan(path)
    return MeasurementFile(path, digest, has_quotes=quotes)


class FileNotReadable(ValueError):
    """The file cannot be read at all (wrong header, not CSV/Parquet)."""


def batches(landed: MeasurementFile) -> Iterator[RawBatch]:
    """Yield the file's rows block by block."""
    suffix = landed.path.suffix.lower()
    if suffix == ".parquet":
        yield from _parquet_batches(landed)
    elif suffix == ".csv":
        yield from _csv_batches(landed)
    else:
        raise FileNotReadable(f"{landed.path.name}: not a .csv or .parquet file")


def _csv_header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        first = handle.readline().decode("utf-8-sig", errors="replace")
    return [column.strip() for column in first.strip().split(",")]


def _csv_batches(landed: MeasurementFile) -> Iterator[RawBatch]:
    header = _csv_header(landed.path)
    if sorted(header) != sorted(COLUMNS):
        raise FileNotReadable(
            f"{landed.path.name}: header is {','.join(header)!r}, expected the columns "
            f"{', '.join(COLUMNS)} (in any order)"
        )
    skipped_lines: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        if "\n" in row.text or "\r" in row.text:
            # A quote left open took the lines after it into this row: skipping it would drop
            # them unseen. Give up, so the file is read again line by line.
            return "error"
        if row.text.strip():
            reason = f"{row.actual_columns} fields where {row.expected_columns} are expected"
            landed.malformed.append(MalformedRow(row.number or 0, row.text[:500], reason))
        skipped_lines.append(row.number or 0)
        return "skip"

    reader = pacsv.open_csv(
        landed.path,
        read_options=pacsv.ReadOptions(
            block_size=BLOCK_BYTES, use_threads=False, column_names=header, skip_rows=1
        ),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=True),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in COLUMNS},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    delivered = 0
    for batch in reader:
        if landed.has_quotes and _spans_lines(batch):
            raise pa.ArrowInvalid(f"{landed.path.name}: a quoted value spans lines")
        count = batch.num_rows
        positions = np.arange(delivered, delivered + count, dtype=np.int64)
        delivered += count
        yield RawBatch(
            batch.column("device_id"),
            batch.column("ts"),
            batch.column("power_w"),
            _lines(positions, skipped_lines),
        )


def _spans_lines(batch: pa.RecordBatch) -> bool:
    """Whether a value holds a line break: a quote opened on one line and closed on another.

    The rows' line numbers would be wrong and a quote left open swallows the lines after it,
    so such a file is read again line by line (``robust_reader``), each line on its own.
    """
    return any(
        pc.any(pc.match_substring(batch.column(name), breaker)).as_py()
        for name in COLUMNS
        for breaker in ("\n", "\r")
    )


def _lines(positions: np.ndarray, skipped_lines: list[int]) -> np.ndarray:
    """File line of each delivered row, given the lines skipped so far (header is line 1).

    Without skips, row ``i`` sits on line ``i + 2``. Each skipped line before a row pushes it
    one line down. Blank lines are not counted: files should not have them in the middle.
    """
    if not skipped_lines:
        return positions + 2
    skipped = np.sort(np.asarray(skipped_lines, dtype=np.int64) - 2)  # as record indices
    rows_before = skipped - np.arange(len(skipped))  # delivered rows before each skipped one
    return positions + 2 + np.searchsorted(rows_before, positions, side="right")


def _parquet_batches(landed: MeasurementFile) -> Iterator[RawBatch]:
    try:
        parquet = pq.ParquetFile(landed.path)
    except (pa.ArrowInvalid, OSError) as error:
        raise FileNotReadable(
            f"{landed.path.name}: not a readable Parquet file ({error})"
        ) from None
    names = set(parquet.schema_arrow.names)
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise FileNotReadable(f"{landed.path.name}: missing columns {', '.join(missing)}")
    delivered = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=list(COLUMNS)):
        count = batch.num_rows
        yield RawBatch(
            batch.column("device_id"),
            batch.column("ts"),
            batch.column("power_w"),
            np.arange(delivered, delivered + count, dtype=np.int64) + 1,  # record number
        )
        delivered += count
