"""Device-cloud JSON items become device states, and those give the flexibility."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest

from domain.flexibility import (
    BatteryState,
    EvChargerState,
    HeatPumpState,
    PvInverterState,
    available_flex,
)
from domain.flexibility.from_cloud import STATE_DEVICE_TYPES, DeviceStateError, state_from_cloud
from domain.isp import isps_of_day
from simulators.device_cloud import device_state
from simulators.fleet import generate_fleet
from simulators.profiles import device_power, load_real_profiles

AS_OF = "2025-02-27T10:30:00+00:00"
T = datetime(2025, 2, 27, 10, 30, tzinfo=UTC)
EV = {
    "device_id": "DEV-1",
    "device_type": "ev_charger",
    "as_of": "2025-02-27T11:30:00+01:00",
    "rated_power_kw": 11.0,
    "power_kw": 7.4,
    "connected": True,
    "energy_needed_kwh": 12.5,
    "departure": "2025-02-27T16:00:00+00:00",
    "max_power_kw": 7.4,
}
HEAT_PUMP = {
    "device_id": "DEV-2",
    "device_type": "heat_pump",
    "as_of": AS_OF,
    "rated_power_kw": 8,
    "power_kw": 3.2,
    "deferrable_minutes": 30.0,
    "advanceable_minutes": 10,
}
BATTERY = {
    "device_id": "DEV-3",
    "device_type": "battery",
    "as_of": AS_OF,
    "rated_power_kw": 5.0,
    "power_kw": -1.5,
    "soc": 0.55,
    "soc_min": 0.1,
    "soc_max": 0.9,
    "capacity_kwh": 10.0,
    "max_charge_kw": 5.0,
    "max_discharge_kw": 5.0,
}
PV = {
    "device_id": "DEV-4",
    "device_type": "pv_inverter",
    "as_of": AS_OF,
    "rated_power_kw": 6.0,
    "power_kw": -2.2,
}


def test_each_type_becomes_its_state_with_times_in_utc():
    assert state_from_cloud(EV) == EvChargerState(
        "DEV-1", T, 11.0, True, 12.5, datetime(2025, 2, 27, 16, tzinfo=UTC), 7.4, 7.4
    )
    assert state_from_cloud(EV).as_of.utcoffset() == timedelta(0)
    assert state_from_cloud(HEAT_PUMP) == HeatPumpState("DEV-2", T, 8.0, 3.2, 30.0, 10.0)
    assert state_from_cloud(BATTERY) == BatteryState(
        "DEV-3", T, 5.0, 0.55, 10.0, 5.0, 5.0, -1.5, soc_min=0.1, soc_max=0.9
    )
    assert state_from_cloud(PV) == PvInverterState("DEV-4", T, 6.0, -2.2)


def test_a_car_not_plugged_in_has_no_departure_and_soc_limits_may_be_left_out():
    idle = {**EV, "connected": False, "departure": None, "energy_needed_kwh": 0, "power_kw": 0}
    assert state_from_cloud(idle).departure is None
    without_limits = {k: v for k, v in BATTERY.items() if k not in ("soc_min", "soc_max")}
    state = state_from_cloud(without_limits)
    assert isinstance(state, BatteryState) and (state.soc_min, state.soc_max) == (0.0, 1.0)
    assert state_from_cloud({**PV, "firmware": "2.1", "site_id": "S1"}) == state_from_cloud(PV)


def test_the_items_give_the_same_flex_as_the_states_they_describe():
    start = datetime(2025, 2, 27, 11, 0, tzinfo=UTC)
    end = start + timedelta(minutes=15)
    # Heat pump: all 3.2 kW deferrable; 10 of 15 minutes advanceable of the 4.8 kW headroom.
    assert available_flex(state_from_cloud(HEAT_PUMP), start, end) == pytest.approx(
        (3.2, 4.8 * 10 / 15)
    )
    assert available_flex(state_from_cloud(PV), start, end) == pytest.approx((0.0, 2.2))
    up, down = available_flex(state_from_cloud(BATTERY), start, end)
    # Discharging 1.5 kW: 3.5 kW more discharge up; down 5 + 1.5 kW, capped at the rated 5 kW.
    assert up == pytest.approx(3.5) and down == pytest.approx(5.0)
    # The EV charges 7.4 kW through the ISP and has hours left: pause all, nothing faster.
    assert available_flex(state_from_cloud(EV), start, end) == pytest.approx((7.4, 0.0))


@pytest.mark.parametrize(
    ("item", "field", "problem"),
    [
        ({k: v for k, v in EV.items() if k != "departure"}, "device DEV-1", "departure"),
        ({**EV, "energy_needed_kwh": None}, "energy_needed_kwh", "missing"),
        ({**EV, "max_power_kw": "7.4"}, "max_power_kw", "JSON number"),
        ({**EV, "connected": "yes"}, "connected", "true or false"),
        ({**EV, "power_kw": True}, "power_kw", "JSON number"),
        ({**EV, "departure": "tomorrow"}, "departure", "ISO 8601"),
        ({**EV, "energy_needed_kwh": -1.0}, "energy_needed_kwh", ">= 0"),
        ({**HEAT_PUMP, "as_of": "2025-02-27T10:30:00"}, "as_of", "no UTC offset"),
        ({**HEAT_PUMP, "deferrable_minutes": -5}, "deferrable_minutes", ">= 0"),
        ({**HEAT_PUMP, "power_kw": math.nan}, "power_kw", "finite"),
        ({**BATTERY, "soc": 55.0}, "soc", "0..1"),
        ({**BATTERY, "capacity_kwh": -10.0}, "capacity_kwh", ">= 0"),
        ({**PV, "rated_power_kw": 0}, "rated_power_kw", "> 0"),
        ({**PV, "device_type": "other"}, "device_type", "no flexibility state"),
        ({**PV, "device_type": "fridge"}, "device_type", "'fridge'"),
        ({k: v for k, v in PV.items() if k != "device_type"}, "device_type", "missing"),
    ],
)
def test_bad_items_are_refused_naming_the_device_and_the_field(item, field, problem):
    with pytest.raises(DeviceStateError) as refused:
        state_from_cloud(item)
    message = str(refused.value)
    assert message.startswith(f"device {item['device_id']}:"), message
    assert field in message and problem in message, message
    assert message.count(f"device {item['device_id']}") == 1, message


def test_an_item_without_an_id_or_not_an_object_is_refused():
    with pytest.raises(DeviceStateError, match="without a device_id"):
        state_from_cloud({k: v for k, v in PV.items() if k != "device_id"})
    with pytest.raises(DeviceStateError, match="JSON object"):
        state_from_cloud([PV])  # type: ignore[arg-type]
    assert issubclass(DeviceStateError, ValueError)


# ------------------------------------------------------------------------------------------
# Round trip: the simulator's items -> JSON -> state -> available_flex, for every type

DAY = date(2025, 2, 27)
ISPS = isps_of_day(DAY)
LEAD = timedelta(minutes=30)  # states are read 30 minutes ahead, as a bid must be


@pytest.fixture(scope="module")
def profiles():
    return load_real_profiles()


@pytest.fixture(scope="module")
def fleet():
    return generate_fleet(200).tables()["devices"]


@pytest.fixture(scope="module")
def flex_per_isp(fleet, profiles):
    """(device, ISP index, item, state, flex) for every device with a state and every ISP."""
    rows = []
    for device in fleet:
        for n, isp in enumerate(ISPS):
            item = json.loads(json.dumps(device_state(device, isp.start - LEAD, profiles)))
            if item["device_type"] not in STATE_DEVICE_TYPES:
                continue
            state = state_from_cloud(item)
            rows.append((device, n, item, state, available_flex(state, isp.start, isp.end)))
    return rows


def test_every_type_round_trips_to_a_bounded_flex_and_most_offer_some(flex_per_isp):
    offering = dict.fromkeys(STATE_DEVICE_TYPES, 0)
    for device, _, item, state, (up, down) in flex_per_isp:
        assert state.device_id == item["device_id"] and state.power_kw == item["power_kw"]
        assert state.as_of == datetime.fromisoformat(item["as_of"])
        rated = float(device["rated_power_kw"])
        assert 0 <= up <= rated and 0 <= down <= rated
        offering[item["device_type"]] += up + down > 0
    assert all(count > 50 for count in offering.values()), offering


def test_pv_offers_its_production_down_and_a_heat_pump_its_power_up(flex_per_isp):
    for _, _, item, _, (up, down) in flex_per_isp:
        if item["device_type"] == "pv_inverter":
            assert up == 0 and down == pytest.approx(max(0.0, -item["power_kw"]))
        elif item["device_type"] == "heat_pump":
            # 30 deferrable minutes cover the 15-minute ISP: all of the power now can stop.
            assert up == pytest.approx(min(max(item["power_kw"], 0.0), item["rated_power_kw"]))


def test_ev_upward_flex_from_cloud_states_is_really_charged_all_through_the_isp(
    flex_per_isp, profiles
):
    """What an EV offers upward, the simulator charges (within the noise) all through the ISP."""
    measured: dict[str, np.ndarray] = {}
    checked = 0
    for device, n, item, _, (up, _) in flex_per_isp:
        if item["device_type"] != "ev_charger" or up == 0:
            continue
        if device["device_id"] not in measured:
            _, power_w = device_power(device, ISPS[0].start, ISPS[-1].end, 60, profiles)
            measured[device["device_id"]] = power_w.reshape(len(ISPS), 15) / 1000
        # The state's power carries the measurement noise (at most 2.45 %).
        assert measured[device["device_id"]][n].min() >= up * 0.95, (device["device_id"], n)
        checked += 1
    assert checked > 20


def test_a_battery_offers_less_upward_near_its_empty_limit(flex_per_isp):
    """The SoC from the cloud drives the flex: near soc_min little can be discharged."""
    near_empty = [
        (item, up)
        for _, _, item, _, (up, _) in flex_per_isp
        if item["device_type"] == "battery" and item["soc"] <= item["soc_min"] + 0.01
    ]
    assert near_empty
    for item, up in near_empty:
        held_kwh = max(0.0, item["power_kw"]) * 0.75  # charging held until the ISP ends
        room_kwh = (item["soc"] - item["soc_min"]) * item["capacity_kwh"] + held_kwh
        assert up <= room_kwh / 0.25 + 1e-9


def test_an_offset_other_than_utc_is_the_same_instant():
    item = {**PV, "as_of": datetime(2025, 2, 27, 12, 30, tzinfo=timezone(timedelta(hours=2)))}
    item["as_of"] = item["as_of"].isoformat()
    assert state_from_cloud(item).as_of == T
