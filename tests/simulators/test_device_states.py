"""The device-cloud simulator serves device states that agree with its own measurements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from integrations.device_cloud_client import DeviceCloudClient
from simulators.device_cloud import (
    HEAT_PUMP_ADVANCEABLE_MINUTES,
    HEAT_PUMP_DEFERRABLE_MINUTES,
    build_device_cloud_simulator,
)
from simulators.fleet import generate_fleet
from simulators.profiles import BATTERY_HOURS, SOC_MAX, SOC_MIN, ev_sessions

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FLEET = generate_fleet(200).tables()["devices"]
BY_ID = {device["device_id"]: device for device in FLEET}
DAY = datetime(2025, 2, 27, tzinfo=AMSTERDAM)
#: Whole hours of the replay day and of the spring DST day (23 local hours), all on the hour.
INSTANTS = [DAY + timedelta(hours=h) for h in range(24)] + [
    datetime(2025, 3, 30, h, tzinfo=UTC) for h in (0, 1, 2, 9, 18)
]
COMMON = {"device_id", "device_type", "as_of", "rated_power_kw", "power_kw"}
FIELDS = {
    "ev_charger": COMMON | {"connected", "energy_needed_kwh", "departure", "max_power_kw"},
    "heat_pump": COMMON | {"deferrable_minutes", "advanceable_minutes"},
    "battery": COMMON
    | {"soc", "soc_min", "soc_max", "capacity_kwh", "max_charge_kw", "max_discharge_kw"},
    "pv_inverter": COMMON,
    "other": COMMON,
}


@pytest.fixture(scope="module")
def cloud():
    service = build_device_cloud_simulator([], devices=FLEET)
    service.start(0)
    yield service
    service.stop()


def states_at(cloud, at: datetime, page_size: int = 1000) -> dict[str, dict]:
    client = DeviceCloudClient(base_url=cloud.url, state_page_size=page_size)
    pages = list(client.device_states(at))
    assert all(0 < len(page) <= page_size for page in pages)
    return {item["device_id"]: item for page in pages for item in page}


def readings(cloud, start: datetime, end: datetime) -> dict[str, list[dict]]:
    """Native readings per device in [start, end), in time order."""
    client = DeviceCloudClient(base_url=cloud.url, measurement_page_size=50_000)
    out: dict[str, list[dict]] = {}
    for page in client.measurements(start, end):
        for item in page:
            out.setdefault(item["device_id"], []).append(item)
    return out


@pytest.fixture(scope="module")
def day_states(cloud):
    return {at: states_at(cloud, at) for at in INSTANTS}


def test_every_device_shows_the_reading_the_measurements_give_at_that_instant(cloud, day_states):
    charging = partial = 0
    for at, states in day_states.items():
        # Every native resolution divides 15 minutes: each device's first reading is at ``at``.
        window = readings(cloud, at, at + timedelta(minutes=15))
        first = {device_id: items[0] for device_id, items in window.items()}
        assert set(first) == set(states) == set(BY_ID)
        for device_id, state in states.items():
            reading = first[device_id]
            assert datetime.fromisoformat(reading["ts"]) == at
            same = state["power_kw"] * 1000 == pytest.approx(reading["power_w"], abs=0.06)
            if state["device_type"] != "ev_charger":
                assert same, device_id
            elif state["connected"] and state["energy_needed_kwh"] > state["max_power_kw"] / 60:
                charging += 1  # charges the whole minute: the measured power
                assert same and state["power_kw"] > 0, device_id
                # The car's limit, times the measurement noise (at most 2.45 %, then clipped).
                assert state["power_kw"] == pytest.approx(state["max_power_kw"], rel=0.025)
            elif state["connected"] and state["energy_needed_kwh"] == 0:
                assert state["power_kw"] == 0  # charged, still plugged in
            elif not state["connected"]:
                assert state["power_kw"] == 0 and state["departure"] is None
                # A car plugged in within the minute shows in the minute's mean only.
                partial += not same
    assert charging >= 10  # the day has connected, charging cars to compare
    assert partial <= 3


def test_an_ev_state_is_the_simulated_session_around_that_instant(day_states):
    connected = 0
    for at, states in day_states.items():
        t = at.timestamp()
        for device_id, state in states.items():
            if state["device_type"] != "ev_charger":
                continue
            local_day = at.astimezone(AMSTERDAM).date()
            sessions = [
                s
                for days_back in (2, 1, 0)
                for s in ev_sessions(BY_ID[device_id], local_day - timedelta(days=days_back))
                if s["arrival_s"] <= t < s["departure_s"]
            ]
            assert state["connected"] is bool(sessions)
            if sessions:
                connected += 1
                (session,) = sessions
                departure = datetime.fromtimestamp(session["departure_s"], UTC)
                assert datetime.fromisoformat(state["departure"]) == departure
                assert state["max_power_kw"] == session["power_w"] / 1000
                assert 0 <= state["energy_needed_kwh"] <= session["energy_kwh"] + 1e-4
    assert connected >= 20


def test_the_energy_an_ev_still_needs_falls_by_what_the_measurements_charged(cloud, day_states):
    compared = 0
    for at in INSTANTS[:24]:
        later = at + timedelta(minutes=30)
        before, after = day_states[at], states_at(cloud, later)
        measured = readings(cloud, at, later)
        for device_id, state in before.items():
            if not (state["device_type"] == "ev_charger" and state["connected"]):
                continue
            if (
                not after[device_id]["connected"]
                or after[device_id]["departure"] != (state["departure"])
            ):
                continue  # the car left (or another one came)
            charged_kwh = sum(r["power_w"] for r in measured[device_id]) / 1000 / 60
            fallen_kwh = state["energy_needed_kwh"] - after[device_id]["energy_needed_kwh"]
            assert fallen_kwh == pytest.approx(charged_kwh, rel=0.03, abs=1e-3), device_id
            compared += charged_kwh > 0
    assert compared >= 5


@pytest.mark.parametrize("local_hour", [6, 11, 16, 20])
def test_a_battery_soc_moves_the_way_its_measured_power_says(cloud, local_hour):
    start = DAY + timedelta(hours=local_hour)
    end = start + timedelta(hours=2)  # the same local day: the controller's run is per day
    before, after = states_at(cloud, start), states_at(cloud, end)
    measured = readings(cloud, start, end)
    moved = 0
    for device_id, state in before.items():
        if state["device_type"] != "battery":
            continue
        rated = float(BY_ID[device_id]["rated_power_kw"])
        assert state["capacity_kwh"] == BATTERY_HOURS * rated
        assert (state["max_charge_kw"], state["max_discharge_kw"]) == (rated, rated)
        assert (state["soc_min"], state["soc_max"]) == (SOC_MIN, SOC_MAX)
        assert SOC_MIN - 1e-6 <= state["soc"] <= SOC_MAX + 1e-6
        power_kw = [r["power_w"] / 1000 for r in measured[device_id]]
        assert len(power_kw) == 120
        stored_kwh = (after[device_id]["soc"] - state["soc"]) * state["capacity_kwh"]
        # Measured power carries up to 2.45 % noise per reading; the SoC does not.
        tolerance = 0.03 * sum(abs(p) for p in power_kw) / 60 + 1e-4
        assert stored_kwh == pytest.approx(sum(power_kw) / 60, abs=tolerance), device_id
        moved += abs(stored_kwh) > 0.1
    assert moved >= 3


def test_a_battery_soc_between_two_controller_steps_is_linear_in_time(cloud):
    at = DAY + timedelta(hours=11)
    minute = states_at(cloud, at), states_at(cloud, at + timedelta(minutes=1))
    middle = states_at(cloud, at + timedelta(seconds=20))
    for device_id, state in minute[0].items():
        if state["device_type"] == "battery":
            soc0, soc1 = state["soc"], minute[1][device_id]["soc"]
            expected = soc0 + (soc1 - soc0) / 3
            assert middle[device_id]["soc"] == pytest.approx(expected, abs=2e-6)


def test_each_type_carries_its_fields_with_units_in_their_names(day_states):
    states = day_states[INSTANTS[10]]
    for state in states.values():
        kind = state["device_type"]
        assert set(state) == FIELDS[kind], kind
        assert state["as_of"] == INSTANTS[10].astimezone(UTC).isoformat()
        assert state["rated_power_kw"] == float(BY_ID[state["device_id"]]["rated_power_kw"])
        for key, value in state.items():
            if isinstance(value, float):
                assert key.endswith(("_kw", "_kwh", "_minutes")) or key.startswith("soc"), key
        if kind == "heat_pump":
            assert state["deferrable_minutes"] == HEAT_PUMP_DEFERRABLE_MINUTES
            assert state["advanceable_minutes"] == HEAT_PUMP_ADVANCEABLE_MINUTES
        if kind == "pv_inverter":
            assert state["power_kw"] <= 0
    assert {state["device_type"] for state in states.values()} == set(FIELDS)


def test_paging_gives_every_device_once_in_id_order_whatever_the_page_size(cloud, day_states):
    at = INSTANTS[10]
    client = DeviceCloudClient(base_url=cloud.url, state_page_size=7)
    items = [item for page in client.device_states(at) for item in page]
    assert [item["device_id"] for item in items] == sorted(BY_ID)
    assert {item["device_id"]: item for item in items} == day_states[at]
    url = f"{cloud.url}/api/v1/device-states"
    whole = requests.get(url, params={"at": at.isoformat()}, timeout=10).json()
    assert whole["items"] == items and whole["has_more"] is False
    assert whole["next_cursor"] == len(FLEET) and whole["at"] == at.astimezone(UTC).isoformat()
    part = requests.get(url, params={"at": at.isoformat(), "cursor": 70, "limit": 10}, timeout=10)
    assert part.json()["items"] == items[70:80]
    assert part.json()["next_cursor"] == 80 and part.json()["has_more"] is True
    beyond = requests.get(url, params={"at": at.isoformat(), "cursor": 999}, timeout=10).json()
    assert beyond["items"] == [] and beyond["has_more"] is False


def test_states_are_deterministic_across_simulators_offsets_and_device_order(cloud, day_states):
    other = build_device_cloud_simulator([], devices=list(reversed(FLEET)))
    other.start(0)
    try:
        at = INSTANTS[15]
        assert states_at(other, at.astimezone(UTC), page_size=13) == day_states[at]
        query = f"at={at.isoformat()}"  # "+01:00" unencoded arrives as a space
        answer = requests.get(f"{other.url}/api/v1/device-states?{query}", timeout=10)
        assert answer.status_code == 200
        assert answer.json()["items"] == list(day_states[at].values())
    finally:
        other.stop()
    assert day_states[INSTANTS[15]] != day_states[INSTANTS[16]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "'at' is required"),
        ({"at": "2025-02-27T12:00:00"}, "no UTC offset"),
        ({"at": "noon"}, "not an ISO 8601"),
        ({"at": "2025-02-27T12:00Z", "limit": "0"}, "limit"),
        ({"at": "2025-02-27T12:00Z", "cursor": "-1"}, "cursor"),
        ({"at": "2025-02-27T12:00Z", "cursor": "x"}, "integer"),
    ],
)
def test_bad_parameters_get_a_400_with_a_reason(cloud, params, message):
    answer = requests.get(f"{cloud.url}/api/v1/device-states", params=params, timeout=10)
    assert answer.status_code == 400
    assert message in answer.json()["error"]


def test_the_client_refuses_a_naive_instant(cloud):
    with pytest.raises(ValueError, match="offset"):
        next(DeviceCloudClient(base_url=cloud.url).device_states(datetime(2025, 2, 27, 12)))
