"""The loader's per device and hour counts, and its binary COPY tuples (pure, no database)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from integrations.measurements.binary_copy import (
    COLUMNS,
    PG_EPOCH_US,
    encode_readings,
    unix_microseconds,
)
from integrations.measurements.hour_summary import HOUR_US, NO_GAP, HourSummaries, gap_tenths

T0 = unix_microseconds(datetime(2025, 2, 27, 10, tzinfo=UTC))
SECOND = 1_000_000


def _counts(summaries: HourSummaries, blocks: list[tuple[list[int], list[int]]]):
    """Feed blocks of (device positions, microseconds); sum the pieces per key like the SQL."""
    per_hour: dict[tuple[int, int], list[int]] = {}
    gaps: dict[tuple[int, int, int], int] = {}
    suspects = []
    for devices, stamps in blocks:
        pieces, suspect = summaries.count(np.array(devices), np.array(stamps))
        suspects.append(suspect)
        for i in range(len(pieces)):
            key = (int(pieces.device_index[i]), int(pieces.hour_start_us[i]))
            count, first, last = per_hour.get(key, [0, 2**62, -(2**62)])
            per_hour[key] = [
                count + int(pieces.readings[i]),
                min(first, int(pieces.first_us[i])),
                max(last, int(pieces.last_us[i])),
            ]
            if pieces.gap_tenths[i] != NO_GAP:
                gap_key = (*key, int(pieces.gap_tenths[i]))
                gaps[gap_key] = gaps.get(gap_key, 0) + int(pieces.readings[i])
    return per_hour, gaps, suspects


def test_gaps_are_tenths_of_a_second_rounded_up():
    assert gap_tenths(np.array([0, 1, 100_000, 100_001, 4 * SECOND, 59_950_000])).tolist() == [
        0,
        1,
        1,
        2,
        40,
        600,
    ]


def test_a_regular_device_across_blocks_counts_every_gap_within_the_hour():
    summaries = HourSummaries(2)
    # device 0 every 4 s from 10:59:52, split over two blocks and across 11:00, out of order
    first = [T0 + HOUR_US - 8 * SECOND, T0 + HOUR_US - 4 * SECOND]
    second = [T0 + HOUR_US + 4 * SECOND, T0 + HOUR_US]
    per_hour, gaps, suspects = _counts(summaries, [([0, 0], first[::-1]), ([0, 0], second)])
    assert suspects == [False, False]
    assert per_hour == {
        (0, T0): [2, first[0], first[1]],
        (0, T0 + HOUR_US): [2, T0 + HOUR_US, T0 + HOUR_US + 4 * SECOND],
    }
    # one gap in each hour; the gap into 11:00 belongs to no hour (the suite takes it from the
    # hours' first and last readings)
    assert gaps == {(0, T0, 40): 1, (0, T0 + HOUR_US, 40): 1}
    assert summaries.disordered_devices().tolist() == []


def test_devices_are_followed_apart():
    summaries = HourSummaries(3)
    stamps = [T0, T0, T0 + 60 * SECOND, T0 + 5 * SECOND, T0 + 120 * SECOND]
    per_hour, gaps, _ = _counts(summaries, [([2, 0, 2, 0, 2], stamps)])
    assert per_hour[(0, T0)] == [2, T0, T0 + 5 * SECOND]
    assert per_hour[(2, T0)] == [3, T0, T0 + 120 * SECOND]
    assert gaps == {(0, T0, 50): 1, (2, T0, 600): 2}


def test_a_repeated_timestamp_makes_the_device_disordered_and_the_block_suspect():
    summaries = HourSummaries(2)
    _, _, suspects = _counts(summaries, [([0, 0, 1], [T0, T0, T0])])
    assert suspects == [True]
    assert summaries.disordered_devices().tolist() == [0]


def test_going_back_in_time_across_blocks_is_suspect():
    summaries = HourSummaries(2)
    _, _, suspects = _counts(
        summaries, [([1], [T0 + 8 * SECOND]), ([1], [T0 + 4 * SECOND]), ([0], [T0])]
    )
    assert suspects == [False, True, False]
    assert summaries.disordered_devices().tolist() == [1]


def test_an_empty_block_gives_no_pieces():
    pieces, suspect = HourSummaries(1).count(np.array([], dtype=np.int64), np.array([]))
    assert len(pieces) == 0 and not suspect


def test_pieces_kept_over_blocks_are_merged_by_key_and_handed_out_at_the_end():
    summaries = HourSummaries(2)
    for block in range(3):  # device 0 every 4 s, device 1 every 60 s, one block per minute
        start = T0 + block * 60 * SECOND
        stamps = [start + i * 4 * SECOND for i in range(15)] + [start]
        assert not summaries.add(np.array([0] * 15 + [1]), np.array(stamps))
        assert summaries.hand_out() is None  # few pieces: kept
    pieces = summaries.hand_out(final=True)
    assert summaries.hand_out(final=True) is None
    rows = sorted(
        zip(
            pieces.device_index.tolist(),
            pieces.gap_tenths.tolist(),
            pieces.readings.tolist(),
            pieces.first_us.tolist(),
            pieces.last_us.tolist(),
            strict=True,
        )
    )
    last_of_device_0 = T0 + 2 * 60 * SECOND + 14 * 4 * SECOND
    assert rows == [
        (0, NO_GAP, 1, T0, T0),
        (0, 40, 44, T0 + 4 * SECOND, last_of_device_0),
        (1, NO_GAP, 1, T0, T0),
        (1, 600, 2, T0 + 60 * SECOND, T0 + 120 * SECOND),
    ]
    assert set(pieces.hour_start_us.tolist()) == {T0}


def _decode(data: bytes) -> list[tuple]:
    """Parse binary COPY tuples back (the inverse of encode_readings)."""
    rows, at = [], 0
    while at < len(data):
        (fields,) = struct.unpack_from(">h", data, at)
        at += 2
        values = []
        for _ in range(fields):
            (size,) = struct.unpack_from(">i", data, at)
            values.append(data[at + 4 : at + 4 + size])
            at += 4 + size
        rows.append(values)
    return [
        (
            struct.unpack(">q", ts)[0] + PG_EPOCH_US,
            struct.unpack(">d", power)[0],
            struct.unpack(">q", load)[0],
            struct.unpack(">q", received)[0] + PG_EPOCH_US,
            device.decode(),
        )
        for ts, power, load, received, device in rows
    ]


def test_binary_tuples_carry_the_readings_in_order():
    assert COLUMNS == ("ts", "power_w", "load_id", "received_at", "device_id")
    ids = pa.array(["skipped", "DEV-1", "a-much-longer-device-id", "é"])[1:]  # sliced, UTF-8
    stamps = np.array([T0, T0 - 1, 0])
    data = encode_readings(ids, stamps, np.array([1.5, -0.0, 1e300]), 42, T0 + 1)
    assert _decode(bytes(data)) == [
        (T0, 1.5, 42, T0 + 1, "DEV-1"),
        (T0 - 1, -0.0, 42, T0 + 1, "a-much-longer-device-id"),
        (0, 1e300, 42, T0 + 1, "é"),
    ]
    assert bytes(encode_readings(ids[:0], stamps[:0], np.array([]), 1, 0)) == b""


def test_unix_microseconds_is_exact():
    moment = datetime(2025, 2, 27, 10, 0, 0, 123456, tzinfo=UTC)
    assert unix_microseconds(moment) == 1_740_650_400_123_456
