"""Load device measurements into ``raw.device_measurements``: one COPY, checks in Arrow.

The path a reading takes (one transaction per load):

1. a producer thread reads the source block by block and judges every row with
   :mod:`domain.measurement_rules` (Arrow, no per-row Python);
2. accepted rows are written, as their original text, straight into ``raw.device_measurements``
   with one ``COPY`` stream per UTC day; ``load_id`` and ``received_at`` come from column
   defaults set for the transaction, so no per-row constants travel;
3. refused rows are spooled to a temporary file and copied into ``ops.quarantine`` with their
   file line and a sentence naming the reading and the reason;
4. duplicates are resolved set-based, and only where they can exist: within the load when a
   block repeats a (device, time) or goes back in time for a device, and against earlier loads
   when their time windows overlap. Equal duplicates are dropped; conflicting ones keep the
   latest received and are recorded in ``ops.measurement_conflicts``.
"""

from __future__ import annotations

import hashlib
import io
import json
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg.copy import LibpqWriter

from domain.measurement_rules import DeviceLimits, judge_batch
from integrations.measurements import store
from integrations.measurements.reader import (
    FileNotReadable,
    MeasurementFile,
    RawBatch,
    batches,
    open_measurement_file,
)

_WRITE_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")
_DONE = object()


@dataclass
class LoadResult:
    """What one load did."""

    load_id: int | None
    source_key: str
    rows_total: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_conflicting: int = 0
    skipped: bool = False
    window_start: datetime | None = None
    window_end: datetime | None = None
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per phase: copy, quarantine, ...

    def hours(self) -> list[datetime]:
        """UTC hours touched by the accepted readings."""
        if self.window_start is None or self.window_end is None:
            return []
        hour = self.window_start.replace(minute=0, second=0, microsecond=0)
        hours = []
        while hour <= self.window_end:
            hours.append(hour)
            hour += timedelta(hours=1)
        return hours


@dataclass
class _Block:
    """One judged block ready for the database: accepted rows as CSV per UTC day."""

    accepted_by_day: dict[datetime, bytes]
    accepted_rows: int
    ts_min: datetime | None
    ts_max: datetime | None
    rejected_csv: bytes
    rejected_rows: int
    suspect_duplicates: bool


class _DuplicateWatch:
    """Cheap signs that a load may repeat a (device, time): hashing per block, order across."""

    def __init__(self, devices: DeviceLimits) -> None:
        self.last_ms = np.full(max(len(devices.device_ids), 1), np.iinfo(np.int64).min)

    def suspect(self, device_index: pa.Array, ts: pa.Array) -> bool:
        idx = pc.fill_null(device_index, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        ms = pc.cast(ts, pa.int64()).to_numpy(zero_copy_only=False) // 1000
        keys = np.sort(ms * (1 << 21) + idx)  # a sort beats hashing here (numpy's unique)
        suspect = bool(np.any(keys[1:] == keys[:-1]))
        # a device going back in time (or standing still) across blocks
        first_ms = np.full_like(self.last_ms, np.iinfo(np.int64).max)
        np.minimum.at(first_ms, idx, ms)
        touched = first_ms != np.iinfo(np.int64).max
        if np.any(first_ms[touched] <= self.last_ms[touched]):
            suspect = True
        np.maximum.at(self.last_ms, idx, ms)
        return suspect


def _judge_blocks(
    source: Iterator[RawBatch], devices: DeviceLimits, now: datetime
) -> Iterator[_Block]:
    watch = _DuplicateWatch(devices)
    for raw in source:
        verdict = judge_batch(raw.device_id, raw.ts, raw.power_w, devices, now)
        accepted = verdict.accepted
        good = pa.table(
            {
                "device_id": pc.filter(raw.device_id, accepted),
                # typed (Parquet) timestamps travel as text that PostgreSQL reads back exactly
                "ts": pc.filter(_text(verdict.ts if _is_typed(raw.ts) else raw.ts), accepted),
                "power_w": pc.filter(_text(raw.power_w), accepted),
            }
        )
        good_ts = pc.filter(verdict.ts, accepted)
        rejected_mask = pc.invert(accepted)
        bad = pa.table(
            {
                "line": pc.filter(pa.array(raw.lines), rejected_mask),
                "device_id": pc.filter(_text(raw.device_id), rejected_mask),
                "ts": pc.filter(_text(raw.ts), rejected_mask),
                "power_w": pc.filter(_text(raw.power_w), rejected_mask),
                "reason_code": pc.filter(verdict.reasons, rejected_mask),
            }
        )
        by_day: dict[datetime, bytes] = {}
        ts_min = ts_max = None
        if good.num_rows:
            low, high = pc.min_max(good_ts).values()
            ts_min, ts_max = low.as_py(), high.as_py()
            day_of_row = pc.floor_temporal(good_ts, unit="day")
            days = pc.unique(day_of_row).to_pylist()
            if len(days) == 1:
                by_day[days[0]] = _csv(good)
            else:  # a block across midnight UTC: one part per day partition
                for day in days:
                    by_day[day] = _csv(good.filter(pc.equal(day_of_row, day)))
        yield _Block(
            accepted_by_day=by_day,
            accepted_rows=good.num_rows,
            ts_min=ts_min,
            ts_max=ts_max,
            rejected_csv=_csv(bad) if bad.num_rows else b"",
            rejected_rows=bad.num_rows,
            suspect_duplicates=bool(good.num_rows)
            and watch.suspect(pc.filter(verdict.device_index, accepted), good_ts),
        )


def _is_typed(values: pa.Array) -> bool:
    return pa.types.is_timestamp(values.type)


def _text(values: pa.Array) -> pa.Array:
    return values if pa.types.is_string(values.type) else pc.cast(values, pa.string())


def _csv(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, write_options=_WRITE_OPTIONS)
    return sink.getvalue()


class _DayCopies:
    """One COPY stream at a time, straight into the day's leaf partition (no row routing)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.day: datetime | None = None
        self.days_written: set[datetime] = set()
        self._cm: Any = None
        self._copy: Any = None

    def write(self, day: datetime, data: bytes) -> None:
        if day != self.day:
            self.close()
            leaf = store.ensure_day_partition(self.conn, day)
            cursor = self.conn.cursor()
            # Synchronous writer: a block is handed over only when libpq took the last one, so
            # memory stays bounded (psycopg's default queued writer buffers ahead).
            self._cm = cursor.copy(store.copy_readings_into(leaf), writer=LibpqWriter(cursor))
            self._copy = self._cm.__enter__()
            self.day = day
            self.days_written.add(day)
        self._copy.write(data)

    def close(self) -> None:
        if self._cm is not None:
            cm, self._cm, self._copy, self.day = self._cm, None, None, None
            cm.__exit__(None, None, None)

    def __enter__(self) -> _DayCopies:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _in_background(blocks: Iterator[_Block]) -> Iterator[_Block]:
    """Judge the next block while the database takes the previous one (Arrow drops the GIL)."""
    handoff: queue.Queue[object] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for block in blocks:
                handoff.put(block)
        except BaseException as error:  # re-raised in the consumer
            failure.append(error)
        finally:
            handoff.put(_DONE)

    worker = threading.Thread(target=produce, name="measurement-reader", daemon=True)
    worker.start()
    while (item := handoff.get()) is not _DONE:
        yield item  # type: ignore[misc]
    worker.join()
    if failure:
        raise failure[0]


def load_rows(
    conn: psycopg.Connection,
    *,
    source: str,
    source_key: str,
    content_sha256: str | None,
    raw_batches: Callable[[], Iterator[RawBatch]],
    quarantine_source: str,
    malformed: Callable[[], list] | None = None,
    before_resolve: Callable[[LoadResult], None] | None = None,
    now: datetime | None = None,
) -> LoadResult:
    """Load judged rows as one load, inside the caller's transaction."""
    now = now or datetime.now(UTC)
    clock = time.perf_counter()
    devices = store.device_limits(conn)
    load_id = store.begin_load(conn, source, source_key, content_sha256)
    result = LoadResult(load_id, source_key)
    suspect = False
    with tempfile.TemporaryFile() as rejects, _DayCopies(conn) as copies:
        for block in _in_background(_judge_blocks(raw_batches(), devices, now)):
            result.rows_total += block.accepted_rows + block.rejected_rows
            if block.rejected_csv:
                rejects.write(block.rejected_csv)
                result.rows_quarantined += block.rejected_rows
            if not block.accepted_rows:
                continue
            suspect = suspect or block.suspect_duplicates
            for day, data in block.accepted_by_day.items():
                copies.write(day, data)
            result.rows_loaded += block.accepted_rows
            result.window_start = min(filter(None, (result.window_start, block.ts_min)))
            result.window_end = max(filter(None, (result.window_end, block.ts_max)))
        copies.close()
        result.seconds["read_check_copy"] = time.perf_counter() - clock
        clock = time.perf_counter()
        malformed_rows = malformed() if malformed else []
        result.rows_total += len(malformed_rows)
        result.rows_quarantined += len(malformed_rows)
        rejects.seek(0)
        result.quarantined_by_reason = store.quarantine(
            conn, rejects, malformed_rows, quarantine_source, content_sha256, now
        )
    result.seconds["quarantine"] = time.perf_counter() - clock
    clock = time.perf_counter()
    if before_resolve is not None:
        before_resolve(result)
    if result.rows_loaded:
        dropped, conflicts = store.resolve_duplicates(conn, result, within_load=suspect)
        result.rows_duplicate, result.rows_conflicting = dropped, conflicts
        result.rows_loaded -= dropped
    result.seconds["duplicates"] = time.perf_counter() - clock
    store.finish_load(conn, result)
    store.analyze_days(conn, copies.days_written)
    return result


class UnchangedWindow(Exception):
    """The window's new content equals the loaded one: nothing to replace."""


def load_device_cloud_window(
    url: str, start: datetime, end: datetime, pages: Iterator[list[dict[str, object]]]
) -> LoadResult:
    """Load one device-cloud window, replacing an earlier load of the same window.

    A window fetched again with the same content changes nothing (the transaction is rolled
    back), so re-materialising a partition gives identical tables.
    """
    key = f"{start.isoformat()}/{end.isoformat()}"
    digest = hashlib.sha256()

    def raw_batches() -> Iterator[RawBatch]:
        position = 0
        for page in pages:
            digest.update(json.dumps(page, sort_keys=True, default=str).encode())
            if not page:
                continue
            table = pa.Table.from_pylist(page)
            count = table.num_rows
            yield RawBatch(
                _column(table, "device_id"),
                _column(table, "ts"),
                _column(table, "power_w"),
                np.arange(position + 1, position + count + 1, dtype=np.int64),
            )
            position += count

    with psycopg.connect(url) as conn:
        store.lock_loads(conn)
        previous = store.active_loads(conn, "device_cloud", key)
        try:
            return load_rows(
                conn,
                source="device_cloud",
                source_key=key,
                content_sha256=None,
                raw_batches=raw_batches,
                quarantine_source=f"device-cloud/measurements/{key}",
                before_resolve=lambda result: store.replace_loads(
                    conn, previous, result, digest.hexdigest()
                ),
            )
        except UnchangedWindow:
            conn.rollback()
            return LoadResult(None, key, skipped=True)


def _column(table: pa.Table, name: str) -> pa.Array:
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    return table.column(name).combine_chunks()


def load_file(url: str, path: Path) -> LoadResult:
    """Load one landed file, once per content; a file that cannot be read is quarantined."""
    landed = open_measurement_file(path)
    with psycopg.connect(url) as conn:
        store.lock_loads(conn)
        if store.file_already_loaded(conn, landed.content_sha256):
            return LoadResult(None, path.name, skipped=True)
        try:
            return _load_landed(conn, landed)
        except FileNotReadable as problem:
            conn.rollback()
            store.lock_loads(conn)
            return store.refuse_file(conn, landed, str(problem))
        except (pa.ArrowInvalid, UnicodeDecodeError) as problem:
            # The fast reader gave up (e.g. an unterminated quote or bad UTF-8): read again
            # line by line, so every good row still loads and each bad line is quarantined.
            conn.rollback()
            store.lock_loads(conn)
            return _load_landed(conn, landed, robust=True, reason=str(problem))


def _load_landed(
    conn: psycopg.Connection, landed: MeasurementFile, robust: bool = False, reason: str = ""
) -> LoadResult:
    from integrations.measurements.robust_reader import robust_batches

    landed.malformed.clear()
    source_batches = (lambda: robust_batches(landed)) if robust else (lambda: batches(landed))
    return load_rows(
        conn,
        source="file",
        source_key=landed.path.name,
        content_sha256=landed.content_sha256,
        raw_batches=source_batches,
        quarantine_source=landed.source,
        malformed=lambda: list(landed.malformed),
    )
