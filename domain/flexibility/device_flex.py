"""Upward and downward power one device can hold for a whole ISP, from its state.

Sign convention: power is offtake positive. **Upward** regulation lowers net offtake (consume
less or inject more); **downward** regulation raises it (consume more or inject less). So
pausing an EV charger, deferring a heat pump or discharging a battery is upward; PV
curtailment (less injection) is downward only.

Each function returns what the device can deliver as a constant deviation from its baseline
over the whole of [isp_start, isp_end): the smallest value over the ISP, never the average.
Both numbers are >= 0 and at most the rated power: the rated power is what was registered with
the TSO (``domain/tso_registration.py``), so a battery swinging from full charge to full
discharge still offers at most its rated power in either direction.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from domain.flexibility.states import (
    BatteryState,
    DeviceState,
    EvChargerState,
    HeatPumpState,
    PvInverterState,
)


class Flex(NamedTuple):
    """Power (kW) a device can hold for a whole ISP: upward and downward, both >= 0."""

    up_kw: float
    down_kw: float


NO_FLEX = Flex(0.0, 0.0)


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def _check_window(as_of: datetime, isp_start: datetime, isp_end: datetime) -> float:
    """Return the ISP's length in hours; the state must describe an instant before it starts."""
    for name, ts in (("isp_start", isp_start), ("isp_end", isp_end)):
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ValueError(f"{name} {ts.isoformat()} is naive; give a timezone-aware datetime")
    if isp_end <= isp_start:
        raise ValueError(f"isp_end {isp_end.isoformat()} is not after isp_start")
    if as_of > isp_start:
        raise ValueError(
            f"state as_of {as_of.isoformat()} is after isp_start {isp_start.isoformat()}:"
            " flexibility is computed ahead of the ISP"
        )
    return _hours(isp_start, isp_end)


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _bounded(up_kw: float, down_kw: float, rated_kw: float) -> Flex:
    return Flex(_clip(up_kw, 0.0, rated_kw), _clip(down_kw, 0.0, rated_kw))


def ev_charger_flex(state: EvChargerState, isp_start: datetime, isp_end: datetime) -> Flex:
    """Flex of an EV charger: pause or slow charging (up), or charge faster (down).

    The car must stay connected for the whole ISP. Baseline: the current power until the
    needed energy is in. Upward is limited by the lowest baseline power in the ISP and by the
    deadline: after the ISP, the rest must still fit before departure at full power. Downward
    is limited by the headroom to full power and by the energy still needed.
    """
    d = _check_window(state.as_of, isp_start, isp_end)
    if not state.connected or state.departure is None or state.departure < isp_end:
        return NO_FLEX
    full_kw = min(state.max_power_kw, state.rated_power_kw)
    baseline_kw = _clip(state.power_kw, 0.0, full_kw)
    needed_kwh = max(0.0, state.energy_needed_kwh - baseline_kw * _hours(state.as_of, isp_start))
    baseline_kwh = min(needed_kwh, baseline_kw * d)  # baseline energy inside the ISP
    if baseline_kw > 0 and needed_kwh >= baseline_kw * d:
        low_kw = high_kw = baseline_kw  # charging through the whole ISP
    elif baseline_kwh > 0:
        low_kw, high_kw = 0.0, baseline_kw  # the baseline finishes inside the ISP
    else:
        low_kw = high_kw = 0.0
    after_h = _hours(isp_end, state.departure)
    up = min(low_kw, (full_kw * after_h - (needed_kwh - baseline_kwh)) / d)
    down = min(full_kw - high_kw, (needed_kwh - baseline_kwh) / d)
    return _bounded(up, down, state.rated_power_kw)


def heat_pump_flex(state: HeatPumpState, isp_start: datetime, isp_end: datetime) -> Flex:
    """Flex of a heat pump within its comfort band.

    Upward (consume less): at most the current power, and a reduction ``u`` over the ISP uses
    ``u x ISP`` of the thermal budget ``power x deferrable time``. Downward (consume more): at
    most the headroom to rated power, with the budget ``headroom x advanceable time``.
    """
    d_min = _check_window(state.as_of, isp_start, isp_end) * 60
    power = _clip(state.power_kw, 0.0, state.rated_power_kw)
    up = power * min(1.0, state.deferrable_minutes / d_min)
    headroom = state.rated_power_kw - power
    down = headroom * min(1.0, state.advanceable_minutes / d_min)
    return _bounded(up, down, state.rated_power_kw)


def battery_flex(state: BatteryState, isp_start: datetime, isp_end: datetime) -> Flex:
    """Flex of a home battery, limited by its power limits and by the energy in the ISP.

    Baseline: the current power held, clipped at the SoC limits (then it stops, so inside the
    ISP it lies between that power and 0). Upward: discharge limit above the lowest baseline
    power, and the SoC must stay >= soc_min at the end of the ISP. Downward: charge limit above
    the highest baseline power, and the SoC must stay <= soc_max.
    """
    d = _check_window(state.as_of, isp_start, isp_end)
    e_min = state.soc_min * state.capacity_kwh
    e_max = state.soc_max * state.capacity_kwh
    p = _clip(state.power_kw, -state.max_discharge_kw, state.max_charge_kw)
    e_start = min(
        max(state.soc * state.capacity_kwh + p * _hours(state.as_of, isp_start), e_min), e_max
    )
    unclipped_end = e_start + p * d
    e_end = _clip(unclipped_end, e_min, e_max)
    if unclipped_end == e_end:
        low_kw = high_kw = p
    else:
        low_kw, high_kw = min(p, 0.0), max(p, 0.0)
    up = min(low_kw + state.max_discharge_kw, (e_end - e_min) / d)
    down = min(state.max_charge_kw - high_kw, (e_max - e_end) / d)
    return _bounded(up, down, state.rated_power_kw)


def pv_inverter_flex(state: PvInverterState, isp_start: datetime, isp_end: datetime) -> Flex:
    """Flex of a PV inverter: curtail the current production to zero (downward only)."""
    _check_window(state.as_of, isp_start, isp_end)
    production_kw = _clip(-state.power_kw, 0.0, state.rated_power_kw)
    return _bounded(0.0, production_kw, state.rated_power_kw)


def available_flex(state: DeviceState, isp_start: datetime, isp_end: datetime) -> Flex:
    """Return (up_kw, down_kw) the device can hold for the whole ISP [isp_start, isp_end)."""
    if isinstance(state, EvChargerState):
        return ev_charger_flex(state, isp_start, isp_end)
    if isinstance(state, HeatPumpState):
        return heat_pump_flex(state, isp_start, isp_end)
    if isinstance(state, BatteryState):
        return battery_flex(state, isp_start, isp_end)
    if isinstance(state, PvInverterState):
        return pv_inverter_flex(state, isp_start, isp_end)
    raise TypeError(f"no flexibility model for {type(state).__name__}")
