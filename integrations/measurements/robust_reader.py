"""Line-by-line reading for files the fast reader refuses (broken quoting, bad UTF-8).

Slower than the Arrow reader but never gives up: each line that is not exactly one record of
three fields, or not UTF-8, is reported as malformed with its line number, and every other line
is read. Quoted fields spanning lines are not supported here (reported as malformed).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from integrations.measurements.reader import (
    COLUMNS,
    FileNotReadable,
    MalformedRow,
    MeasurementFile,
    RawBatch,
)

BATCH_ROWS = 200_000


def robust_batches(landed: MeasurementFile) -> Iterator[RawBatch]:
    """Yield the readable lines of a CSV file in batches; record the others as malformed."""
    with landed.path.open("rb") as handle:
        header_bytes = handle.readline()
        header = [c.strip() for c in header_bytes.decode("utf-8-sig", errors="replace").split(",")]
        if sorted(header) != sorted(COLUMNS):
            raise FileNotReadable(f"{landed.path.name}: header is {','.join(header)!r}")
        order = [header.index(column) for column in COLUMNS]
        columns: list[list[str]] = [[], [], []]
        lines: list[int] = []
        for line_number, raw in enumerate(handle, start=2):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                landed.malformed.append(
                    MalformedRow(
                        line_number,
                        raw[:500].decode("utf-8", "replace"),
                        f"not UTF-8 (byte {error.start})",
                    )
                )
                continue
            if not text.strip():
                continue
            try:
                fields = next(csv.reader([text], strict=True))
            except csv.Error as error:
                landed.malformed.append(MalformedRow(line_number, text[:500], str(error)))
                continue
            if len(fields) != len(COLUMNS):
                landed.malformed.append(
                    MalformedRow(
                        line_number, text[:500], f"{len(fields)} fields where 3 are expected"
                    )
                )
                continue
            for target, source in zip(columns, order, strict=True):
                target.append(fields[source])
            lines.append(line_number)
            if len(lines) >= BATCH_ROWS:
                yield _batch(columns, lines)
                columns, lines = [[], [], []], []
        if lines:
            yield _batch(columns, lines)


def _batch(columns: list[list[str]], lines: list[int]) -> RawBatch:
    device_id, ts, power = (pa.array(values, pa.string()) for values in columns)
    return RawBatch(device_id, ts, power, np.asarray(lines, dtype=np.int64))
