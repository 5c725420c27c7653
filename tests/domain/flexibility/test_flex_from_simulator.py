"""The device states can be filled from what the device-cloud simulator produces."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from domain.flexibility import (
    BatteryState,
    EvChargerState,
    HeatPumpState,
    PvInverterState,
    available_flex,
)
from domain.isp import isps_of_day
from simulators.fleet import generate_fleet
from simulators.profiles import (
    BATTERY_HOURS,
    SOC_MAX,
    SOC_MIN,
    battery_state,
    device_power,
    ev_sessions,
    load_real_profiles,
)

REAL = Path(__file__).resolve().parents[3] / "data" / "real"
DAY = date(2025, 2, 27)
ISPS = isps_of_day(DAY)
LEAD = timedelta(minutes=30)  # states are read 30 minutes ahead, as a bid must be


@pytest.fixture(scope="module")
def profiles():
    return load_real_profiles(REAL)


@pytest.fixture(scope="module")
def fleet():
    return generate_fleet(200).tables()["devices"]


def ev_state(device: dict, at: datetime) -> EvChargerState:
    """An EV charger's state at ``at`` from the simulator's sessions."""
    t = at.timestamp()
    rated = float(device["rated_power_kw"])
    for day in (DAY - timedelta(days=1), DAY):
        for s in ev_sessions(device, day):
            if s["arrival_s"] <= t < s["departure_s"]:
                power_kw = s["power_w"] / 1000
                charged = power_kw * (min(t, s["charge_end_s"]) - s["arrival_s"]) / 3600
                return EvChargerState(
                    device["device_id"],
                    at,
                    rated_power_kw=rated,
                    connected=True,
                    energy_needed_kwh=max(0.0, s["energy_kwh"] - charged),
                    departure=datetime.fromtimestamp(s["departure_s"], UTC),
                    max_power_kw=power_kw,
                    power_kw=power_kw if t < s["charge_end_s"] else 0.0,
                )
    return EvChargerState(device["device_id"], at, rated, False, 0.0, None, rated, 0.0)


def test_ev_flex_from_simulated_sessions_is_held_by_the_simulated_charging(fleet, profiles):
    """Upward flex means the simulator really charges at least that much all through the ISP."""
    checked = 0
    for device in (d for d in fleet if d["device_type"] == "ev_charger"):
        _, power_w = device_power(device, ISPS[0].start, ISPS[-1].end, 60, profiles, noise=0.0)
        power_kw = power_w.reshape(len(ISPS), 15) / 1000
        for n, isp in enumerate(ISPS):
            up, down = available_flex(ev_state(device, isp.start - LEAD), isp.start, isp.end)
            assert 0 <= up <= float(device["rated_power_kw"]) and down >= 0
            if up > 0:
                assert power_kw[n].min() >= up - 1e-6, (device["device_id"], isp)
                checked += 1
    assert checked > 20  # the fleet's cars do offer flexibility on the day


def test_battery_heat_pump_and_pv_states_from_the_simulator(fleet, profiles):
    at_types = {"battery": 0, "heat_pump": 0, "pv_inverter": 0}
    noon = next(isp for isp in ISPS if isp.start == datetime(2025, 2, 27, 11, 0, tzinfo=UTC))
    as_of = noon.start - LEAD
    for device in fleet:
        kind = device["device_type"]
        rated = float(device["rated_power_kw"])
        if kind == "battery":
            _, power_w, soc = battery_state(
                device, as_of, as_of + timedelta(minutes=1), 60, profiles
            )
            state = BatteryState(
                device["device_id"],
                as_of,
                rated_power_kw=rated,
                soc=float(soc[0]),
                capacity_kwh=BATTERY_HOURS * rated,
                max_charge_kw=rated,
                max_discharge_kw=rated,
                power_kw=float(power_w[0]) / 1000,
                soc_min=SOC_MIN,
                soc_max=SOC_MAX,
            )
        elif kind in ("heat_pump", "pv_inverter"):
            _, power_w = device_power(device, as_of, as_of + timedelta(minutes=5), 60, profiles)
            power_kw = float(np.mean(power_w)) / 1000
            if kind == "heat_pump":
                state = HeatPumpState(device["device_id"], as_of, rated, power_kw, 30.0, 30.0)
            else:
                state = PvInverterState(device["device_id"], as_of, rated, power_kw)
        else:
            continue
        up, down = available_flex(state, noon.start, noon.end)
        assert 0 <= up <= rated and 0 <= down <= rated
        if kind == "pv_inverter":
            assert up == 0 and down == pytest.approx(-power_kw)
        at_types[kind] += up + down > 0
    assert all(count > 0 for count in at_types.values()), at_types
