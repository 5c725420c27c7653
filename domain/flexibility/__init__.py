"""Available flexibility: per device from its state, per pool with a safety margin.

See ``docs/bidding.md`` for the rules and their parameters.
"""

from __future__ import annotations

from domain.flexibility.device_flex import (
    NO_FLEX,
    Flex,
    available_flex,
    battery_flex,
    ev_charger_flex,
    heat_pump_flex,
    pv_inverter_flex,
)
from domain.flexibility.pool import (
    DEFAULT_AVAILABILITY,
    DEFAULT_DRAWS,
    DEFAULT_QUANTILE,
    MONTE_CARLO_MAX_DEVICES,
    NORMAL_MAX_DEVICE_SHARE,
    PoolDevice,
    device_flex_frame,
    pool_flex,
    pool_flex_ladders,
    pool_flex_totals,
)
from domain.flexibility.states import (
    BatteryState,
    DeviceState,
    EvChargerState,
    HeatPumpState,
    PvInverterState,
)

__all__ = [
    "DEFAULT_AVAILABILITY",
    "DEFAULT_DRAWS",
    "DEFAULT_QUANTILE",
    "MONTE_CARLO_MAX_DEVICES",
    "NORMAL_MAX_DEVICE_SHARE",
    "NO_FLEX",
    "BatteryState",
    "DeviceState",
    "EvChargerState",
    "Flex",
    "HeatPumpState",
    "PoolDevice",
    "PvInverterState",
    "available_flex",
    "battery_flex",
    "device_flex_frame",
    "ev_charger_flex",
    "heat_pump_flex",
    "pool_flex",
    "pool_flex_ladders",
    "pool_flex_totals",
    "pv_inverter_flex",
]
