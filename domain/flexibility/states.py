"""What the device cloud can tell about a device at one instant, one dataclass per device type.

Power is offtake positive (consumption and battery charging +, PV production and battery
discharging -), in kW; energy in kWh. ``as_of`` is the aware instant the state describes.
The fields match what the device-cloud simulator (``simulators/profiles.py``) produces:
``ev_sessions`` (arrival, departure, charging power, energy), ``battery_state`` (power, SoC as
a fraction of 2 h x rated power, 10-90 %) and ``device_power`` (heat pump and PV power).

Powers are measurements: any finite value is accepted (a meter reads 2.5000000001 kW on a 2.5 kW
battery, an inverter draws a few W at night) and the flexibility functions clip them into the
device's physical range. What cannot be a measurement is refused: a naive time, a rated power
<= 0, negative energy, capacity or limits, a state of charge outside 0..1 (a percentage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime


def _require_aware(ts: datetime, name: str) -> None:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{name} {ts.isoformat()} is naive; give a timezone-aware datetime")


def _require_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not value >= 0:  # also refuses NaN
            raise ValueError(f"{name} must be >= 0, got {value}")


def _require_finite(**values: float) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")


def _require_positive_rating(device_id: str, rated_power_kw: float) -> None:
    if not rated_power_kw > 0:
        raise ValueError(f"device {device_id}: rated_power_kw must be > 0, got {rated_power_kw}")


@dataclass(frozen=True)
class EvChargerState:
    """An EV charger: is a car connected, how much it still needs, until when, how fast.

    ``power_kw`` is the charging power now (0 when idle); the baseline assumes the charger keeps
    it until ``energy_needed_kwh`` is in, as uncontrolled charging (and the simulator) does.
    ``max_power_kw`` is the lower of the charger's and the car's limit. ``departure`` is the
    expected time the car leaves; by then ``energy_needed_kwh`` must be charged.
    """

    device_id: str
    as_of: datetime
    rated_power_kw: float
    connected: bool
    energy_needed_kwh: float
    departure: datetime | None
    max_power_kw: float
    power_kw: float

    def __post_init__(self) -> None:
        """Refuse impossible states (negative energy, a connected car without departure)."""
        _require_aware(self.as_of, "as_of")
        _require_positive_rating(self.device_id, self.rated_power_kw)
        _require_non_negative(
            energy_needed_kwh=self.energy_needed_kwh, max_power_kw=self.max_power_kw
        )
        _require_finite(power_kw=self.power_kw)
        if self.departure is not None:
            _require_aware(self.departure, "departure")
        if self.connected and self.departure is None:
            raise ValueError(f"device {self.device_id}: a connected car needs a departure time")


@dataclass(frozen=True)
class HeatPumpState:
    """A heat pump: its power now and how long the comfort band lets it shift consumption.

    ``deferrable_minutes``: how long it may be switched off (from ``power_kw`` to 0) before the
    room or tank leaves its comfort band. ``advanceable_minutes``: how long it may run at rated
    power instead of ``power_kw`` before reaching the top of the band. The baseline is
    ``power_kw`` held (heat pumps change slowly; the real 5-minute series in ``data/real``).
    """

    device_id: str
    as_of: datetime
    rated_power_kw: float
    power_kw: float
    deferrable_minutes: float
    advanceable_minutes: float

    def __post_init__(self) -> None:
        """Refuse impossible states (a negative comfort band)."""
        _require_aware(self.as_of, "as_of")
        _require_positive_rating(self.device_id, self.rated_power_kw)
        _require_non_negative(
            deferrable_minutes=self.deferrable_minutes,
            advanceable_minutes=self.advanceable_minutes,
        )
        _require_finite(power_kw=self.power_kw)


@dataclass(frozen=True)
class BatteryState:
    """A home battery: state of charge, capacity, power limits and its power now.

    ``soc``, ``soc_min`` and ``soc_max`` are fractions of ``capacity_kwh`` (the simulator:
    capacity 2 h x rated power, SoC 0.10-0.90). ``power_kw`` is offtake positive (charging +);
    the baseline holds it, clipped at the SoC limits.
    """

    device_id: str
    as_of: datetime
    rated_power_kw: float
    soc: float
    capacity_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    power_kw: float
    soc_min: float = 0.0
    soc_max: float = 1.0

    def __post_init__(self) -> None:
        """Refuse impossible states (SoC outside 0..1, negative capacity or limits)."""
        _require_aware(self.as_of, "as_of")
        _require_positive_rating(self.device_id, self.rated_power_kw)
        _require_non_negative(
            capacity_kwh=self.capacity_kwh,
            max_charge_kw=self.max_charge_kw,
            max_discharge_kw=self.max_discharge_kw,
        )
        if not 0.0 <= self.soc_min <= self.soc_max <= 1.0:
            raise ValueError(
                f"device {self.device_id}: need 0 <= soc_min <= soc_max <= 1,"
                f" got {self.soc_min}, {self.soc_max}"
            )
        if not 0.0 <= self.soc <= 1.0:
            raise ValueError(f"device {self.device_id}: soc must be within 0..1, got {self.soc}")
        _require_finite(power_kw=self.power_kw)


@dataclass(frozen=True)
class PvInverterState:
    """A PV inverter: its production now (``power_kw`` <= 0, injection negative).

    Curtailment can only lower production, i.e. raise net offtake: downward regulation only.
    The baseline holds the current production over the ISP.
    """

    device_id: str
    as_of: datetime
    rated_power_kw: float
    power_kw: float

    def __post_init__(self) -> None:
        """Refuse a naive time, a rating <= 0 or a power that is not a number."""
        _require_aware(self.as_of, "as_of")
        _require_positive_rating(self.device_id, self.rated_power_kw)
        _require_finite(power_kw=self.power_kw)


DeviceState = EvChargerState | HeatPumpState | BatteryState | PvInverterState

#: The registry's device_type for each state class.
DEVICE_TYPE_OF: dict[type, str] = {
    EvChargerState: "ev_charger",
    HeatPumpState: "heat_pump",
    BatteryState: "battery",
    PvInverterState: "pv_inverter",
}
