"""Device states from the device cloud's JSON: one ``/api/v1/device-states`` item -> a state.

The item format is what the device-cloud simulator serves (``simulators/device_cloud.py``):
``device_id``, ``device_type``, ``as_of`` (ISO 8601 with a UTC offset), ``rated_power_kw``,
``power_kw`` and per type

- ``ev_charger``: ``connected``, ``energy_needed_kwh``, ``departure`` (null without a car),
  ``max_power_kw``;
- ``heat_pump``: ``deferrable_minutes``, ``advanceable_minutes``;
- ``battery``: ``soc``, ``capacity_kwh``, ``max_charge_kw``, ``max_discharge_kw`` and optionally
  ``soc_min``, ``soc_max`` (fractions 0..1; missing means 0 and 1);
- ``pv_inverter``: nothing more.

Strict on purpose: numbers must be JSON numbers (a string ``"3.7"`` or a boolean is refused, so
a changed unit or format shows up instead of being guessed), times need an offset and come out
in UTC, other fields are ignored. Every refusal is a ``DeviceStateError`` naming the device and
the field. Devices of type ``other`` have no state: filter on ``STATE_DEVICE_TYPES`` first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from domain.flexibility.states import (
    BatteryState,
    DeviceState,
    EvChargerState,
    HeatPumpState,
    PvInverterState,
)

#: The device types that have a state (and so flexibility); ``other`` has none.
STATE_DEVICE_TYPES = ("ev_charger", "heat_pump", "battery", "pv_inverter")


class DeviceStateError(ValueError):
    """A device-cloud item that cannot become a device state; the message names device and field."""


class _Item:
    """Typed access to one item's fields, with errors that name the device and the field."""

    def __init__(self, item: Mapping[str, Any]) -> None:
        self.item = item
        raw_id = item.get("device_id")
        if not isinstance(raw_id, str) or not raw_id.strip():
            raise DeviceStateError(f"device-state item without a device_id: got {raw_id!r}")
        self.device_id = raw_id

    def fail(self, field: str, problem: str) -> DeviceStateError:
        return DeviceStateError(f"device {self.device_id}: field '{field}' {problem}")

    def _present(self, field: str) -> Any:
        if field not in self.item or self.item[field] is None:
            raise self.fail(field, "is missing")
        return self.item[field]

    def number(self, field: str, default: float | None = None) -> float:
        if default is not None and self.item.get(field) is None:
            return default
        value = self._present(field)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, f"must be a JSON number, got {value!r}")
        if not math.isfinite(value):
            raise self.fail(field, f"must be a finite number, got {value!r}")
        return float(value)

    def flag(self, field: str) -> bool:
        value = self._present(field)
        if not isinstance(value, bool):
            raise self.fail(field, f"must be true or false, got {value!r}")
        return value

    def text(self, field: str) -> str:
        value = self._present(field)
        if not isinstance(value, str):
            raise self.fail(field, f"must be a string, got {value!r}")
        return value

    def instant(self, field: str) -> datetime:
        raw = self.text(field)
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise self.fail(field, f"is not an ISO 8601 timestamp: {raw!r}") from None
        if value.utcoffset() is None:
            raise self.fail(field, f"has no UTC offset: {raw!r}")
        return value.astimezone(UTC)

    def optional_instant(self, field: str) -> datetime | None:
        return None if self.item.get(field) is None else self.instant(field)


def _ev_charger(f: _Item) -> EvChargerState:
    return EvChargerState(
        device_id=f.device_id,
        as_of=f.instant("as_of"),
        rated_power_kw=f.number("rated_power_kw"),
        connected=f.flag("connected"),
        energy_needed_kwh=f.number("energy_needed_kwh"),
        departure=f.optional_instant("departure"),
        max_power_kw=f.number("max_power_kw"),
        power_kw=f.number("power_kw"),
    )


def _heat_pump(f: _Item) -> HeatPumpState:
    return HeatPumpState(
        device_id=f.device_id,
        as_of=f.instant("as_of"),
        rated_power_kw=f.number("rated_power_kw"),
        power_kw=f.number("power_kw"),
        deferrable_minutes=f.number("deferrable_minutes"),
        advanceable_minutes=f.number("advanceable_minutes"),
    )


def _battery(f: _Item) -> BatteryState:
    return BatteryState(
        device_id=f.device_id,
        as_of=f.instant("as_of"),
        rated_power_kw=f.number("rated_power_kw"),
        soc=f.number("soc"),
        capacity_kwh=f.number("capacity_kwh"),
        max_charge_kw=f.number("max_charge_kw"),
        max_discharge_kw=f.number("max_discharge_kw"),
        power_kw=f.number("power_kw"),
        soc_min=f.number("soc_min", default=0.0),
        soc_max=f.number("soc_max", default=1.0),
    )


def _pv_inverter(f: _Item) -> PvInverterState:
    return PvInverterState(
        device_id=f.device_id,
        as_of=f.instant("as_of"),
        rated_power_kw=f.number("rated_power_kw"),
        power_kw=f.number("power_kw"),
    )


_BUILDERS: dict[str, Callable[[_Item], DeviceState]] = {
    "ev_charger": _ev_charger,
    "heat_pump": _heat_pump,
    "battery": _battery,
    "pv_inverter": _pv_inverter,
}


def state_from_cloud(item: Mapping[str, Any]) -> DeviceState:
    """Turn one device-cloud state item (parsed JSON) into the state dataclass of its type.

    Raises ``DeviceStateError`` (a ``ValueError``) naming the device and the field when the
    item is not a JSON object, a field is missing or of the wrong kind, the type has no state
    (``other``, or unknown), or the values are impossible (e.g. a SoC of 45, a percentage).
    """
    if not isinstance(item, Mapping):
        raise DeviceStateError(
            f"a device-state item must be a JSON object, got {type(item).__name__}"
        )
    fields = _Item(item)
    kind = fields.text("device_type")
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise fields.fail(
            "device_type",
            f"is {kind!r}, which has no flexibility state (one of {', '.join(STATE_DEVICE_TYPES)})",
        )
    try:
        return builder(fields)
    except DeviceStateError:
        raise
    except ValueError as exc:  # the dataclass refused an impossible state
        message = str(exc)
        if not message.startswith(f"device {fields.device_id}"):
            message = f"device {fields.device_id}: {message}"
        raise DeviceStateError(message) from exc
