"""Load device measurements into ``raw.device_measurements``: one COPY, checks in Arrow.

The path a reading takes (one transaction per load):

1. a producer thread reads the source block by block and judges every row with
   :mod:`domain.measurement_rules` (Arrow, no per-row Python);
2. accepted rows are written straight into the day's leaf of ``raw.device_measurements`` with
   one binary ``COPY`` stream per UTC day (:mod:`~integrations.measurements.binary_copy`): the
   values the rules parsed, plus the load's ``load_id`` and ``received_at``, so the server
   neither parses text nor evaluates column defaults per row;
3. the same thread counts the accepted readings per device and UTC hour
   (:mod:`~integrations.measurements.hour_summary`); the counts are spooled and summed into
   ``raw.measurement_load_hours``, which the quality suite reads instead of sorting readings;
4. refused rows are spooled to a temporary file and copied into ``ops.quarantine`` with their
   file line and a sentence naming the reading and the reason;
5. duplicates are resolved set-based, and only where they can exist: within the load when a
   block repeats a (device, time) or goes back in time for a device, and against earlier loads
   when their time windows overlap. Equal duplicates are dropped; conflicting ones keep the
   latest received and are recorded in ``ops.measurement_conflicts``; the hour summaries of
   the rows removed are deleted with them.
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
from integrations.measurements.binary_copy import (
    HEADER,
    TRAILER,
    encode_readings,
    unix_microseconds,
)
from integrations.measurements.hour_summary import HourPieces, HourSummaries
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
    """One judged block ready for the database: accepted rows as binary COPY tuples per day."""

    accepted_by_day: dict[int, memoryview]  # UTC day (microseconds since 1970) -> tuples
    accepted_rows: int
    ts_min: datetime | None
    ts_max: datetime | None
    rejected_csv: bytes
    rejected_rows: int
    suspect_duplicates: bool
    hour_pieces: bytes  # CSV of the block's counts per (device, hour, gap)


@dataclass(frozen=True)
class _Stamp:
    """What every accepted row of a load carries besides its reading."""

    load_id: int
    received_at_us: int


def _judge_blocks(
    source: Iterator[RawBatch],
    devices: DeviceLimits,
    now: datetime,
    stamp: _Stamp,
    summaries: HourSummaries,
) -> Iterator[_Block]:
    for raw in source:
        verdict = judge_batch(raw.device_id, raw.ts, raw.power_w, devices, now)
        accepted = verdict.accepted
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
        good_count = len(raw.device_id) - bad.num_rows
        by_day: dict[int, memoryview] = {}
        ts_min = ts_max = None
        suspect = False
        pieces = b""
        if good_count:
            keep = accepted.to_numpy(zero_copy_only=False)
            ids = pc.filter(_text(raw.device_id), accepted)
            ts_us = pc.cast(pc.filter(verdict.ts, accepted), pa.int64()).to_numpy()
            power_w = verdict.power_w[keep]
            device_index = pc.filter(verdict.device_index, accepted).to_numpy()
            low, high = int(ts_us.min()), int(ts_us.max())
            ts_min, ts_max = _utc(low), _utc(high)
            if low // _DAY_US == high // _DAY_US:
                by_day[low // _DAY_US] = encode_readings(
                    ids, ts_us, power_w, stamp.load_id, stamp.received_at_us
                )
            else:  # a block across midnight UTC: one part per day partition
                day_of_row = ts_us // _DAY_US
                for day in np.unique(day_of_row):
                    rows = np.flatnonzero(day_of_row == day)
                    by_day[int(day)] = encode_readings(
                        ids.take(pa.array(rows)),
                        ts_us[rows],
                        power_w[rows],
                        stamp.load_id,
                        stamp.received_at_us,
                    )
            suspect = summaries.add(device_index, ts_us)
            pieces = _pieces_csv(summaries.hand_out(), devices)
        yield _Block(
            accepted_by_day=by_day,
            accepted_rows=good_count,
            ts_min=ts_min,
            ts_max=ts_max,
            rejected_csv=_csv(bad) if bad.num_rows else b"",
            rejected_rows=bad.num_rows,
            suspect_duplicates=suspect,
            hour_pieces=pieces,
        )


def _pieces_csv(pieces: HourPieces | None, devices: DeviceLimits) -> bytes:
    if pieces is None or not len(pieces):
        return b""
    table = pa.table(
        {
            "device_id": devices.device_ids.take(pa.array(pieces.device_index)),
            "hour_start_us": pieces.hour_start_us,
            "gap_tenths": pieces.gap_tenths,
            "readings": pieces.readings,
            "first_us": pieces.first_us,
            "last_us": pieces.last_us,
        }
    )
    return _csv(table)


_DAY_US = 86_400_000_000


def _utc(microseconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=microseconds)


def _text(values: pa.Array) -> pa.Array:
    return values if pa.types.is_string(values.type) else pc.cast(values, pa.string())


def _csv(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, write_options=_WRITE_OPTIONS)
    return sink.getvalue()


class _DayCopies:
    """One binary COPY stream at a time, straight into the day's leaf partition (no routing)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.day: int | None = None
        self.days_written: set[datetime] = set()
        self._cm: Any = None
        self._copy: Any = None

    def write(self, day: int, data: memoryview) -> None:
        if day != self.day:
            self.close()
            start = _utc(day * _DAY_US)
            leaf = store.ensure_day_partition(self.conn, start)
            cursor = self.conn.cursor()
            # Synchronous writer: a block is handed over only when libpq took the last one, so
            # memory stays bounded (psycopg's default queued writer buffers ahead).
            self._cm = cursor.copy(store.copy_readings_into(leaf), writer=LibpqWriter(cursor))
            self._copy = self._cm.__enter__()
            self._copy.write(HEADER)
            self.day = day
            self.days_written.add(start)
        self._copy.write(data)

    def close(self, error: BaseException | None = None) -> None:
        if self._cm is not None:
            cm, copy, self._cm, self._copy, self.day = self._cm, self._copy, None, None, None
            if error is None:
                copy.write(TRAILER)
                cm.__exit__(None, None, None)
            else:  # abort the COPY: the caller's transaction is rolled back
                cm.__exit__(type(error), error, error.__traceback__)

    def __enter__(self) -> _DayCopies:
        return self

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        self.close(error)


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
    stamp = _Stamp(load_id, unix_microseconds(store.transaction_start(conn)))
    summaries = HourSummaries(len(devices.device_ids))
    result = LoadResult(load_id, source_key)
    suspect = False
    with (
        tempfile.TemporaryFile() as rejects,
        tempfile.TemporaryFile() as hour_pieces,
        _DayCopies(conn) as copies,
    ):
        blocks = _judge_blocks(raw_batches(), devices, now, stamp, summaries)
        for block in _in_background(blocks):
            result.rows_total += block.accepted_rows + block.rejected_rows
            if block.rejected_csv:
                rejects.write(block.rejected_csv)
                result.rows_quarantined += block.rejected_rows
            if not block.accepted_rows:
                continue
            suspect = suspect or block.suspect_duplicates
            for day, data in block.accepted_by_day.items():
                copies.write(day, data)
            hour_pieces.write(block.hour_pieces)
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
        if result.rows_loaded:
            hour_pieces.write(_pieces_csv(summaries.hand_out(final=True), devices))
            hour_pieces.seek(0)
            disordered = devices.device_ids.take(pa.array(summaries.disordered_devices()))
            store.save_hour_summaries(conn, load_id, hour_pieces, disordered.to_pylist())
        result.seconds["hour_summaries"] = time.perf_counter() - clock
    clock = time.perf_counter()
    if before_resolve is not None:
        before_resolve(result)
    if result.rows_loaded:
        dropped, conflicts = store.resolve_duplicates(conn, result, within_load=suspect)
        result.rows_duplicate, result.rows_conflicting = dropped, conflicts
        result.rows_loaded -= dropped
    result.seconds["duplicates"] = time.perf_counter() - clock
    clock = time.perf_counter()
    store.finish_load(conn, result)
    store.analyze_days(conn, copies.days_written)
    result.seconds["analyze"] = time.perf_counter() - clock
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
