"""Intake rules for device measurements, vectorised over Arrow arrays.

Pure logic: Arrow arrays in, a verdict per row out; no database, no Dagster. A batch of raw
strings (``device_id``, ``ts``, ``power_w`` as read from a CSV file, or typed Parquet columns)
gets one reason code per refused row, in this order of precedence:

``missing_value`` → ``timestamp_without_offset`` / ``unparsable_timestamp`` →
``non_finite_power`` / ``unparsable_power`` → ``unknown_device`` → ``power_above_rated``
(|power| above 1.5 × the device's rated power) → ``timestamp_before_2000`` →
``future_timestamp``.

Accepted rows keep their original strings: PostgreSQL's own input functions parse them during
``COPY``, exactly as a plain ``COPY`` of the file would, so the checks here add no second parse
on the database side. The patterns accept only what PostgreSQL also accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RATED_POWER_FACTOR = 1.5
#: Readings up to this far ahead of the load time are accepted (device clocks drift).
FUTURE_TOLERANCE = timedelta(minutes=5)
#: Readings before this are refused: no device of the platform measured then, and every
#: distinct day would create a partition (year 0 does not even fit a Python datetime).
EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)

TS_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)$"
TS_WITHOUT_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"
FINITE_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?\s*$"
NON_FINITE = r"^\s*[+-]?(?i:nan|inf|infinity)\s*$"

REASONS = {
    "missing_value": "a required value is empty",
    "timestamp_without_offset": "ts has no UTC offset",
    "unparsable_timestamp": "ts is not an ISO 8601 timestamp",
    "non_finite_power": "power_w is NaN or infinite",
    "unparsable_power": "power_w is not a number",
    "unknown_device": "device_id is not a registered device",
    "power_above_rated": "|power_w| is above 1.5 × the device's rated power",
    "future_timestamp": "ts lies in the future",
    "timestamp_before_2000": "ts lies before 2000-01-01 (UTC)",
}


@dataclass(frozen=True)
class DeviceLimits:
    """Registered devices and their rated power, as Arrow arrays for vectorised lookups."""

    device_ids: pa.Array  # string
    rated_power_w: np.ndarray  # float64, same order

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, float]]) -> DeviceLimits:
        """Build from (device_id, rated_power_kw) pairs."""
        ids = pa.array([device_id for device_id, _ in pairs], pa.string())
        rated = np.array([float(kw) * 1000.0 for _, kw in pairs], dtype=np.float64)
        return cls(ids, rated)


@dataclass(frozen=True)
class BatchVerdict:
    """Per row: the reason code (null = accepted), plus parsed values for the accepted rows."""

    reasons: pa.Array  # string, null where accepted
    ts: pa.Array  # timestamp[us, UTC], null where not parsable
    power_w: np.ndarray  # float64, NaN where not parsable
    device_index: pa.Array  # int32 position in DeviceLimits, null where unknown

    @property
    def accepted(self) -> pa.Array:
        """Boolean mask of the accepted rows."""
        return pc.is_null(self.reasons)


def _as_strings(column: pa.Array) -> pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return pc.cast(column, pa.string())


def _blank(values: pa.Array) -> pa.Array:
    """Null or empty (whitespace only counts as empty)."""
    empty = pc.fill_null(pc.equal(values, ""), True)
    if pc.any(pc.starts_with(values, " ")).as_py() or pc.any(pc.ends_with(values, " ")).as_py():
        empty = pc.or_(empty, pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), True))
    return empty


def _parse_timestamps(ts: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Return (parsed UTC timestamps, mask without offset, mask unparsable)."""
    if pa.types.is_timestamp(ts.type):  # typed input (Parquet)
        utc = pa.timestamp("us", tz="UTC")
        if ts.type.tz is None:  # naive: the instant is unknown, so nothing is parsed
            return pa.nulls(len(ts), utc), pc.is_valid(ts), pc.is_null(ts)
        none = pa.array(np.zeros(len(ts), dtype=bool))
        return pc.cast(ts, utc), none, pc.is_null(ts)
    ts = _as_strings(ts)
    if ts.null_count == 0:
        try:  # fast path: Arrow refuses naive strings when casting to a UTC timestamp
            parsed = pc.cast(ts, pa.timestamp("us", tz="UTC"))
            none = pa.array(np.zeros(len(ts), dtype=bool))
            return parsed, none, none
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    with_offset = pc.fill_null(pc.match_substring_regex(ts, TS_WITH_OFFSET), False)
    without_offset = pc.fill_null(pc.match_substring_regex(ts, TS_WITHOUT_OFFSET), False)
    candidates = pc.if_else(with_offset, ts, pa.scalar(None, pa.string()))
    try:
        parsed = pc.cast(candidates, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # A well-formed string with an impossible date (month 13, 25:00): go value by value.
        parsed = pa.array(
            [_parse_one(value) for value in candidates.to_pylist()], pa.timestamp("us", tz="UTC")
        )
    unparsable = pc.and_(pc.invert(without_offset), pc.is_null(parsed))
    return parsed, without_offset, unparsable


def _parse_one(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _parse_power(power: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Return (float64 values, mask non-finite, mask unparsable)."""
    if pa.types.is_floating(power.type) or pa.types.is_integer(power.type):
        values = pc.cast(power, pa.float64()).to_numpy(zero_copy_only=False)
        values = np.where(pc.is_null(power).to_numpy(zero_copy_only=False), np.nan, values)
        non_finite = pa.array(~np.isfinite(values) & pc.is_valid(power).to_numpy(False))
        return values, non_finite, pc.is_null(power)
    power = _as_strings(power)
    if power.null_count == 0:
        try:  # fast path: every value is a plain number (NaN and inf parse too)
            values = pc.cast(power, pa.float64()).to_numpy(zero_copy_only=False)
            none = np.zeros(len(values), dtype=bool)
            return values, pa.array(~np.isfinite(values)), pa.array(none)
        except pa.ArrowInvalid:
            pass
    finite = pc.fill_null(pc.match_substring_regex(power, FINITE_NUMBER), False)
    non_finite = pc.fill_null(pc.match_substring_regex(power, NON_FINITE), False)
    numbers = pc.cast(pc.if_else(finite, pc.utf8_trim_whitespace(power), None), pa.float64())
    values = numbers.to_numpy(zero_copy_only=False).astype(np.float64)
    unparsable = pc.and_(pc.invert(finite), pc.invert(non_finite))
    return values, non_finite, unparsable


def judge_batch(
    device_id: pa.Array, ts: pa.Array, power_w: pa.Array, devices: DeviceLimits, now: datetime
) -> BatchVerdict:
    """Give every row its reason code (null = accepted), vectorised."""
    device_id = _as_strings(device_id)
    missing = _blank(device_id)
    if not pa.types.is_timestamp(ts.type):
        missing = pc.or_(missing, _blank(_as_strings(ts)))
    else:  # a typed column (Parquet) that is null: empty, not unparsable
        missing = pc.or_(missing, pc.is_null(ts))
    if not (pa.types.is_floating(power_w.type) or pa.types.is_integer(power_w.type)):
        missing = pc.or_(missing, _blank(_as_strings(power_w)))
    else:
        missing = pc.or_(missing, pc.is_null(power_w))
    parsed_ts, naive, bad_ts = _parse_timestamps(ts)
    power, non_finite, bad_power = _parse_power(power_w)

    index = pc.index_in(device_id, value_set=devices.device_ids)
    unknown = pc.is_null(index)
    positions = pc.fill_null(index, 0).to_numpy(zero_copy_only=False)
    rated = devices.rated_power_w[positions] if len(devices.rated_power_w) else np.zeros(len(power))
    with np.errstate(invalid="ignore"):
        above = pa.array(np.abs(power) > RATED_POWER_FACTOR * rated)
    horizon = pa.scalar(now + FUTURE_TOLERANCE, pa.timestamp("us", tz="UTC"))
    future = pc.fill_null(pc.greater(parsed_ts, horizon), False)
    earliest = pa.scalar(EARLIEST_TS, pa.timestamp("us", tz="UTC"))
    ancient = pc.fill_null(pc.less(parsed_ts, earliest), False)

    reasons = pa.nulls(len(device_id), pa.string())
    # Apply from the lowest precedence up, so the first rule that applies wins.
    for code, mask in (
        ("future_timestamp", future),
        ("timestamp_before_2000", ancient),
        ("power_above_rated", above),
        ("unknown_device", unknown),
        ("unparsable_power", bad_power),
        ("non_finite_power", non_finite),
        ("unparsable_timestamp", bad_ts),
        ("timestamp_without_offset", naive),
        ("missing_value", missing),
    ):
        if pc.any(mask).as_py():  # most batches are clean: skip the untouched rules
            reasons = pc.if_else(mask, pa.scalar(code), reasons)
    return BatchVerdict(reasons, parsed_ts, power, index)
