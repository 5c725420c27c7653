"""Per device and UTC hour of one load: readings, first and last time, gaps within the hour.

Pure logic over numpy arrays (no database). The loader feeds every block of accepted readings
(device position, UTC microseconds) while they stream to PostgreSQL; the counts are kept per
(device, hour, gap), merged as they grow (bounded memory: past :data:`HAND_OUT_AT` keys they are
handed out to be spooled), and summed per (device, hour) in SQL into
``raw.measurement_load_hours``. The quality suite then checks completeness and timestamp order
from that small table instead of sorting the readings.

A *gap* is the time from a device's previous reading in the same load and the same UTC hour,
rounded up to tenths of a second (:func:`gap_tenths`); the first reading of a device in an hour
has none here (the suite takes it from the previous hour's last reading). Readings are expected
per device in time order from block to block (any order inside a block). A device that repeats a
timestamp or goes back in time across blocks is *disordered*: its summary would not describe
the rows that remain after duplicate resolution, so it gets none, and the suite reads its
readings instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOUR_US = 3_600_000_000
TENTH_US = 100_000
#: Pieces kept before they are merged by key, and merged keys kept before they are handed out
#: to be spooled: memory stays bounded (about 50 MB) whatever the file size.
MERGE_AT = 500_000
HAND_OUT_AT = 1_000_000
NO_GAP = -1  # gap_tenths of a reading without an earlier one of its device in the same hour
_NONE = np.iinfo(np.int64).min  # no reading of the device seen yet


def gap_tenths(gap_us: np.ndarray) -> np.ndarray:
    """Gaps in tenths of a second, rounded up (0 only for a repeated timestamp)."""
    return -(-gap_us // TENTH_US)


@dataclass(frozen=True)
class HourPieces:
    """One block's readings counted per (device, hour, gap): runs of equal keys, time-ordered.

    Summing ``readings`` over a (device, hour), and per gap, gives the load's summary; the same
    key may come back in several pieces (and blocks).
    """

    device_index: np.ndarray  # int64 position in the device list
    hour_start_us: np.ndarray  # int64, UTC microseconds
    gap_tenths: np.ndarray  # int64, NO_GAP for readings without an earlier one in the hour
    readings: np.ndarray  # int64
    first_us: np.ndarray  # int64, earliest reading of the piece
    last_us: np.ndarray  # int64, latest reading of the piece

    def __len__(self) -> int:
        """Number of pieces."""
        return len(self.readings)

    @classmethod
    def merged(cls, parts: list[HourPieces]) -> HourPieces:
        """One piece per (device, hour, gap) of ``parts``: counts summed, first and last kept."""
        device = np.concatenate([part.device_index for part in parts])
        hour = np.concatenate([part.hour_start_us for part in parts])
        gap = np.concatenate([part.gap_tenths for part in parts])
        order = np.lexsort((gap, hour, device))
        device, hour, gap = device[order], hour[order], gap[order]
        change = np.ones(len(order), dtype=bool)
        change[1:] = (device[1:] != device[:-1]) | (hour[1:] != hour[:-1]) | (gap[1:] != gap[:-1])
        starts = np.flatnonzero(change)
        readings = np.concatenate([part.readings for part in parts])[order]
        first = np.concatenate([part.first_us for part in parts])[order]
        last = np.concatenate([part.last_us for part in parts])[order]
        return cls(
            device_index=device[starts],
            hour_start_us=hour[starts],
            gap_tenths=gap[starts],
            readings=np.add.reduceat(readings, starts),
            first_us=np.minimum.reduceat(first, starts),
            last_us=np.maximum.reduceat(last, starts),
        )


class HourSummaries:
    """Follows every device through the blocks of one load."""

    def __init__(self, device_count: int) -> None:
        """Start with no reading seen for any of ``device_count`` devices."""
        self.last_us = np.full(max(device_count, 1), _NONE, dtype=np.int64)
        self.disordered = np.zeros(max(device_count, 1), dtype=bool)
        self._pending: list[HourPieces] = []
        self._pending_count = 0

    def add(self, device_index: np.ndarray, ts_us: np.ndarray) -> bool:
        """Count one block; return whether it may hold duplicates.

        It may when a device repeats a timestamp (in the block or after an earlier block) or
        goes back in time across blocks: only then must the load look for duplicates in SQL.
        """
        pieces, suspect = self.count(device_index, ts_us)
        if len(pieces):
            self._pending.append(pieces)
            self._pending_count += len(pieces)
            if self._pending_count >= MERGE_AT:
                self._pending = [HourPieces.merged(self._pending)]
                self._pending_count = len(self._pending[0])
        return suspect

    def hand_out(self, final: bool = False) -> HourPieces | None:
        """The pieces to spool now: when too many are kept, or all of them at the end."""
        if not self._pending or not (final or self._pending_count >= HAND_OUT_AT):
            return None
        pieces = HourPieces.merged(self._pending)
        self._pending, self._pending_count = [], 0
        return pieces

    def count(self, device_index: np.ndarray, ts_us: np.ndarray) -> tuple[HourPieces, bool]:
        """One block's pieces (runs of equal keys in time order) and whether it is suspect."""
        devices = np.asarray(device_index, dtype=np.int64)
        stamps = np.asarray(ts_us, dtype=np.int64)
        count = len(stamps)
        if count == 0:
            empty = np.zeros(0, dtype=np.int64)
            return HourPieces(empty, empty, empty, empty, empty, empty), False
        order = np.lexsort((stamps, devices))
        devices, stamps = devices[order], stamps[order]
        first_of_device = np.ones(count, dtype=bool)
        first_of_device[1:] = devices[1:] != devices[:-1]
        previous = np.empty(count, dtype=np.int64)
        previous[1:] = stamps[:-1]
        previous[first_of_device] = self.last_us[devices[first_of_device]]
        seen = previous != _NONE
        gap = stamps - previous
        backwards = seen & (gap <= 0)
        suspect = bool(backwards.any())
        if suspect:
            self.disordered[devices[backwards]] = True
        hours = stamps // HOUR_US
        same_hour = seen & ~backwards & (np.where(seen, previous, 0) // HOUR_US == hours)
        gaps = np.where(same_hour, gap_tenths(gap), NO_GAP)

        starts = np.flatnonzero(
            first_of_device
            | np.concatenate(([True], (hours[1:] != hours[:-1]) | (gaps[1:] != gaps[:-1])))
        )
        ends = np.append(starts[1:], count)
        last_of_device = np.append(np.flatnonzero(first_of_device)[1:], count) - 1
        touched = devices[last_of_device]
        self.last_us[touched] = np.maximum(self.last_us[touched], stamps[last_of_device])
        return (
            HourPieces(
                device_index=devices[starts],
                hour_start_us=hours[starts] * HOUR_US,
                gap_tenths=gaps[starts],
                readings=ends - starts,
                first_us=stamps[starts],
                last_us=stamps[ends - 1],
            ),
            suspect,
        )

    def disordered_devices(self) -> np.ndarray:
        """Positions of the devices whose summary must not be stored."""
        return np.flatnonzero(self.disordered)
