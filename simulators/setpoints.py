"""The device cloud's setpoint book: which device is told to run at what power, and when.

``POST /api/v1/setpoints`` with ``{"setpoints": [{"device_id", "target_kw", "valid_from",
"valid_to", "activation_id"[, "revision"]}]}`` (a bare list is taken too). ``target_kw`` is the
power the device should run at, offtake positive (as ``PlanLine.target_kw``); times are ISO 8601
with an offset. The answer holds one result per item, in order: ``{"device_id",
"activation_id", "valid_from", "status": "accepted"|"rejected", "reason", "duplicate"}``.

A setpoint is rejected (``reason``):

- ``invalid``: a field missing or malformed, a naive time, ``valid_to <= valid_from``;
- ``unknown_device``: the cloud does not know the device;
- ``not_controllable``: the registry row says ``controllable`` false;
- ``outside_operating_range``: ``target_kw`` outside the type's range times the rated power
  (``domain.dispatch.OPERATING_RANGE``: consumers 0..+rated, PV -rated..0, batteries
  -rated..+rated);
- ``superseded``: a higher ``revision`` is already held under the same key;
- ``simulated_failure``: the device is in the book's failing set, or its (device,
  activation) hash falls under ``failure_rate`` (0 by default; deterministic, so a retry fails
  the same way).

**Idempotent per (activation_id, device_id, valid_from)**: the same item again is answered as
the first time with ``duplicate`` true and changes nothing, so a POST is safe to retry; another
``target_kw`` / ``valid_to`` under the same key with an equal or higher ``revision`` replaces it.

**Measurements.** While a setpoint is active, the device's readings (``/api/v1/measurements``,
``power_kw`` of ``/api/v1/device-states``) show the target instead of the profile, with the
same 1 % measurement noise as every reading (the noise of ``simulators.profiles``, seeded by
device and timestamp) and within the type's physical range. A reading whose interval
[ts, ts + resolution) is only partly covered is the time-weighted mean of profile and target,
so energy per ISP stays right at every resolution. Outside setpoints nothing changes. When
setpoints overlap for a device, the one with the latest ``valid_from`` wins, then the higher
revision, then the larger activation id: the result does not depend on the order of arrival.
Limitation: only power follows the setpoint; a battery's state of charge and an EV's energy
still follow the profile.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

import numpy as np

from domain.dispatch.availability import OPERATING_RANGE
from simulators.profiles import _unit_noise, stable_hash  # the readings' own noise

ACCEPTED = "accepted"
REJECTED = "rejected"
INVALID = "invalid"
UNKNOWN_DEVICE = "unknown_device"
NOT_CONTROLLABLE = "not_controllable"
OUTSIDE_RANGE = "outside_operating_range"
SUPERSEDED = "superseded"
SIMULATED_FAILURE = "simulated_failure"
MAX_SETPOINTS = 10_000
NOISE = 0.01  # as ``device_power``'s default
_FALSE = {"false", "0", "no", "n", "f"}

Key = tuple[str, str, datetime]  # activation_id, device_id, valid_from (UTC)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Setpoint:
    """One accepted setpoint."""

    activation_id: str
    device_id: str
    valid_from: datetime
    valid_to: datetime
    target_kw: Decimal
    revision: int
    received_at: datetime

    @property
    def key(self) -> Key:
        """(activation_id, device_id, valid_from): what makes a setpoint the same."""
        return self.activation_id, self.device_id, self.valid_from

    @property
    def priority(self) -> tuple[datetime, int, str]:
        """Which of two overlapping setpoints wins: latest start, revision, activation id."""
        return self.valid_from, self.revision, self.activation_id

    def as_json(self) -> dict[str, Any]:
        """The setpoint as the listing shows it."""
        return {
            "activation_id": self.activation_id,
            "device_id": self.device_id,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
            "target_kw": float(self.target_kw),
            "revision": self.revision,
            "received_at": self.received_at.isoformat(),
        }


class _Invalid(ValueError):
    """An item that cannot be read."""


def _instant(item: Mapping[str, Any], name: str) -> datetime:
    raw = item.get(name)
    if not isinstance(raw, str):
        raise _Invalid(f"{name} must be an ISO 8601 string with an offset")
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise _Invalid(f"{name} {raw!r} is not ISO 8601") from None
    if value.utcoffset() is None:
        raise _Invalid(f"{name} {raw!r} has no UTC offset")
    return value.astimezone(UTC)


def _parse(item: Any) -> tuple[str, str, datetime, datetime, Decimal, int]:
    if not isinstance(item, Mapping):
        raise _Invalid("a setpoint must be an object")
    device_id, activation_id = item.get("device_id"), item.get("activation_id")
    if not isinstance(device_id, str) or not device_id:
        raise _Invalid("device_id is missing")
    if not isinstance(activation_id, str) or not activation_id:
        raise _Invalid("activation_id is missing")
    raw = item.get("target_kw")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _Invalid("target_kw must be a number")
    try:
        target = Decimal(str(raw))
    except InvalidOperation:
        raise _Invalid(f"target_kw {raw!r} is not a number") from None
    if not target.is_finite():
        raise _Invalid(f"target_kw {raw!r} is not finite")
    valid_from, valid_to = _instant(item, "valid_from"), _instant(item, "valid_to")
    if valid_to <= valid_from:
        raise _Invalid("valid_to must be after valid_from")
    revision = item.get("revision", 1)
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise _Invalid("revision must be a whole number >= 1")
    return activation_id, device_id, valid_from, valid_to, target, revision


def _result(
    item: Any, status: str, reason: str | None, *, duplicate: bool = False
) -> dict[str, Any]:
    fields = item if isinstance(item, Mapping) else {}
    return {
        "device_id": fields.get("device_id"),
        "activation_id": fields.get("activation_id"),
        "valid_from": fields.get("valid_from"),
        "status": status,
        "reason": reason,
        "duplicate": duplicate,
    }


def is_controllable(device: Mapping[str, str]) -> bool:
    """A registry row's ``controllable`` (missing or empty counts as controllable)."""
    return str(device.get("controllable") or "true").strip().lower() not in _FALSE


class SetpointBook:
    """The setpoints a device cloud holds, and what they do to the devices' readings.

    ``failing_devices`` always fail; ``failure_rate`` (0..1) fails that share of (device,
    activation) pairs, chosen by a stable hash. ``clock`` stamps ``received_at``.
    """

    def __init__(
        self,
        *,
        failing_devices: Iterable[str] = (),
        failure_rate: float = 0.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """An empty book."""
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be within 0..1")
        self.failing_devices = frozenset(failing_devices)
        self.failure_rate = failure_rate
        self.clock = clock or _utc_now
        self._lock = threading.Lock()
        self._held: dict[Key, Setpoint] = {}
        self._by_device: dict[str, list[Setpoint]] = {}
        self._segments: dict[str, list[tuple[float, float, float]]] = {}

    def set_failing(self, device_ids: Iterable[str]) -> None:
        """From now on these devices fail (replacing the failing set)."""
        self.failing_devices = frozenset(device_ids)

    def fails(self, device_id: str, activation_id: str) -> bool:
        """Whether a setpoint for this device and activation fails (deterministic)."""
        if device_id in self.failing_devices:
            return True
        if self.failure_rate <= 0:
            return False
        draw = stable_hash("setpoint-failure", device_id, activation_id) / 2.0**64
        return draw < self.failure_rate

    def receive(
        self, items: list[Any], devices: Mapping[str, Mapping[str, str]]
    ) -> list[dict[str, Any]]:
        """Judge and hold ``items``; one result per item, in order."""
        received_at = self.clock().astimezone(UTC)
        results = []
        with self._lock:
            for item in items:
                results.append(self._receive_one(item, devices, received_at))
        return results

    def _receive_one(
        self, item: Any, devices: Mapping[str, Mapping[str, str]], received_at: datetime
    ) -> dict[str, Any]:
        try:
            activation_id, device_id, valid_from, valid_to, target, revision = _parse(item)
        except _Invalid as problem:
            return _result(item, REJECTED, f"{INVALID}: {problem}")
        device = devices.get(device_id)
        if device is None:
            return _result(item, REJECTED, UNKNOWN_DEVICE)
        if not is_controllable(device):
            return _result(item, REJECTED, NOT_CONTROLLABLE)
        low, high = OPERATING_RANGE[device["device_type"]]
        rated = Decimal(str(device["rated_power_kw"]))
        if not low * rated <= target <= high * rated:
            return _result(item, REJECTED, f"{OUTSIDE_RANGE} [{low * rated}, {high * rated}] kW")
        key: Key = (activation_id, device_id, valid_from)
        held = self._held.get(key)
        if held is not None:
            if (held.valid_to, held.target_kw, held.revision) == (valid_to, target, revision):
                return _result(item, ACCEPTED, None, duplicate=True)
            if revision < held.revision:
                return _result(item, REJECTED, f"{SUPERSEDED} by revision {held.revision}")
        if self.fails(device_id, activation_id):
            return _result(item, REJECTED, SIMULATED_FAILURE)
        setpoint = Setpoint(
            activation_id, device_id, valid_from, valid_to, target, revision, received_at
        )
        self._held[key] = setpoint
        mine = [s for s in self._by_device.get(device_id, []) if s.key != key]
        self._by_device[device_id] = [*mine, setpoint]
        self._segments.pop(device_id, None)
        return _result(item, ACCEPTED, None)

    def listing(
        self, activation_id: str | None = None, device_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The setpoints held, optionally of one activation or device, by key."""
        with self._lock:
            held = sorted(self._held.values(), key=lambda s: (s.activation_id, s.device_id))
        return [
            s.as_json()
            for s in held
            if activation_id in (None, s.activation_id) and device_id in (None, s.device_id)
        ]

    def segments(self, device_id: str) -> list[tuple[float, float, float]]:
        """The device's effective setpoints as (start s, end s, target W), not overlapping."""
        with self._lock:
            cached = self._segments.get(device_id)
            if cached is not None:
                return cached
            setpoints = self._by_device.get(device_id, [])
            bounds = sorted(
                {s.valid_from.timestamp() for s in setpoints}
                | {s.valid_to.timestamp() for s in setpoints}
            )
            segments: list[tuple[float, float, float]] = []
            for start, end in pairwise(bounds):
                covering = [
                    s
                    for s in setpoints
                    if s.valid_from.timestamp() <= start and end <= s.valid_to.timestamp()
                ]
                if not covering:
                    continue
                target_w = float(max(covering, key=lambda s: s.priority).target_kw) * 1000
                if segments and segments[-1][1] == start and segments[-1][2] == target_w:
                    segments[-1] = (segments[-1][0], end, target_w)
                else:
                    segments.append((start, end, target_w))
            self._segments[device_id] = segments
            return segments

    def overlay(
        self,
        device: Mapping[str, str],
        ts_s: np.ndarray,
        resolution_s: float,
        power_w: np.ndarray,
    ) -> np.ndarray:
        """Readings with the active setpoints in place of the profile (see the module doc).

        ``ts_s`` are the readings' UTC epoch seconds, each standing for [ts, ts +
        ``resolution_s``); ``power_w`` the profile's readings there (noise included).
        """
        segments = self.segments(device["device_id"])
        if not segments or len(ts_s) == 0:
            return power_w
        starts = np.asarray(ts_s, dtype=np.float64)
        ends = starts + resolution_s
        if segments[-1][1] <= starts[0] or segments[0][0] >= ends[-1]:
            return power_w
        covered = np.zeros(len(starts))
        target = np.zeros(len(starts))
        for start, end, target_w in segments:
            overlap = np.clip(np.minimum(ends, end) - np.maximum(starts, start), 0.0, None)
            fraction = overlap / resolution_s
            covered += fraction
            target += fraction * target_w
        if not covered.any():
            return power_w
        seed = stable_hash("noise", device["device_id"])
        noise = 1.0 + NOISE * _unit_noise(seed, np.floor(starts).astype(np.int64))
        mixed = power_w * (1.0 - covered) + target * noise
        low, high = OPERATING_RANGE[device["device_type"]]
        rated_w = float(device["rated_power_kw"]) * 1000
        return np.clip(mixed, low * rated_w, high * rated_w)

    def power_kw_at(self, device: Mapping[str, str], at: datetime, profile_kw: float) -> float:
        """The device's power at the instant ``at``: the profile's, or its setpoint's."""
        second = math.floor(at.timestamp())
        power = self.overlay(device, np.array([second]), 1, np.array([profile_kw * 1000]))
        return round(round(float(power[0]), 1) / 1000, 4)

    def active_at(self, device_id: str, at: datetime) -> Setpoint | None:
        """The setpoint in force for the device at ``at`` (None: it follows its profile)."""
        with self._lock:
            setpoints = [
                s for s in self._by_device.get(device_id, []) if s.valid_from <= at < s.valid_to
            ]
        return max(setpoints, key=lambda s: s.priority) if setpoints else None
