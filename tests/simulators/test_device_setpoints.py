"""Device setpoints: the device cloud takes them once, and its devices then read the target."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from integrations.device_cloud_client import DeviceCloudClient, SetpointRequest
from simulators.device_cloud import build_device_cloud_simulator
from simulators.fleet import generate_fleet
from simulators.setpoints import SetpointBook

FLEET = generate_fleet(200).tables()["devices"]
BY_ID = {device["device_id"]: device for device in FLEET}
BATTERY, HEAT_PUMP, OTHER, PV = "DEV-000005", "DEV-000001", "DEV-000062", "DEV-000002"
FAILING = "DEV-000007"  # a battery whose cloud connection is broken
NOT_CONTROLLABLE = "DEV-000180"
START = datetime(2025, 2, 27, 15, 15, tzinfo=UTC)
END = START + timedelta(minutes=15)


@pytest.fixture
def cloud():
    service = build_device_cloud_simulator(
        [],
        devices=FLEET,
        afrr_devices=frozenset({BATTERY}),
        setpoints=SetpointBook(failing_devices={FAILING}),
    )
    service.start(0)
    yield service
    service.stop()


def client(cloud) -> DeviceCloudClient:
    return DeviceCloudClient(base_url=cloud.url, measurement_page_size=50_000)


def setpoint(device_id, target_kw, start=START, end=END, activation="ACT-1", revision=1):
    return SetpointRequest(device_id, Decimal(str(target_kw)), start, end, activation, revision)


def readings(cloud, device_id, start, end, resolution="native") -> dict[datetime, float]:
    pages = client(cloud).measurements(start, end, resolution=resolution, device_id=device_id)
    return {datetime.fromisoformat(r["ts"]): r["power_w"] for page in pages for r in page}


def test_a_setpoint_changes_the_readings_only_inside_its_window_noise_kept(cloud):
    before = readings(cloud, BATTERY, START - timedelta(minutes=10), END + timedelta(minutes=10))
    [result] = client(cloud).send_setpoints([setpoint(BATTERY, -2.5)])
    assert result.accepted and not result.duplicate and result.reason is None
    after = readings(cloud, BATTERY, START - timedelta(minutes=10), END + timedelta(minutes=10))
    assert after.keys() == before.keys() and len(after) == 35  # 60 s readings
    inside = {ts: w for ts, w in after.items() if START <= ts < END}
    outside = {ts: w for ts, w in after.items() if not START <= ts < END}
    assert len(inside) == 15
    assert outside == {ts: before[ts] for ts in outside}
    assert all(abs(w + 2500) <= 2500 * 0.01 * 2.5 for w in inside.values())  # 1 % noise
    assert len(set(inside.values())) > 10  # noisy, not a flat line
    stream = readings(cloud, BATTERY, START, END, resolution="4s")
    assert len(stream) == 225 and all(abs(w + 2500) < 65 for w in stream.values())


def test_a_reading_partly_covered_is_the_time_weighted_mean(cloud):
    quarter = readings(cloud, OTHER, START - timedelta(minutes=15), END)  # 900 s readings
    start = START + timedelta(minutes=5)  # covers the last 10 of 15 minutes of one reading
    client(cloud).send_setpoints([setpoint(OTHER, 0, start=start)])
    after = readings(cloud, OTHER, START - timedelta(minutes=15), END)
    assert after[START - timedelta(minutes=15)] == quarter[START - timedelta(minutes=15)]
    assert after[START] == pytest.approx(quarter[START] / 3, abs=0.06)


def test_device_states_show_the_target_while_it_is_active(cloud):
    def state(at):
        pages = client(cloud).device_states(at)
        return next(i for page in pages for i in page if i["device_id"] == HEAT_PUMP)

    rated = float(BY_ID[HEAT_PUMP]["rated_power_kw"])
    outside = state(END)
    assert "setpoint_kw" not in outside
    client(cloud).send_setpoints([setpoint(HEAT_PUMP, rated)])
    inside = state(START + timedelta(minutes=7, seconds=13))
    assert inside["setpoint_kw"] == rated and inside["setpoint_activation_id"] == "ACT-1"
    assert inside["power_kw"] == pytest.approx(rated, rel=0.025) and inside["power_kw"] <= rated
    assert state(END) == outside


def test_a_resend_is_taken_once_and_a_revision_replaces_it(cloud):
    first = client(cloud).send_setpoints([setpoint(BATTERY, 1.0)])
    window = readings(cloud, BATTERY, START, END)
    again = client(cloud).send_setpoints([setpoint(BATTERY, 1.0)])
    assert first[0].accepted and again[0].accepted and again[0].duplicate
    assert readings(cloud, BATTERY, START, END) == window
    listed = requests.get(
        f"{cloud.url}/api/v1/setpoints", params={"device_id": BATTERY}, timeout=10
    ).json()["setpoints"]
    assert len(listed) == 1 and listed[0]["target_kw"] == 1.0

    [revised] = client(cloud).send_setpoints([setpoint(BATTERY, -1.0, revision=2)])
    assert revised.accepted and not revised.duplicate
    assert all(w < 0 for w in readings(cloud, BATTERY, START, END).values())
    [stale] = client(cloud).send_setpoints([setpoint(BATTERY, 1.0, revision=1)])
    assert not stale.accepted and stale.reason.startswith("superseded")


def test_bad_setpoints_are_rejected_with_their_reason_and_the_rest_taken(cloud):
    rated = float(BY_ID[HEAT_PUMP]["rated_power_kw"])
    failing_before = readings(cloud, FAILING, START, END)
    results = client(cloud).send_setpoints(
        [
            setpoint(BATTERY, 2.0),
            setpoint(FAILING, 2.0),  # fails mid-dispatch
            setpoint("DEV-999999", 1.0),
            setpoint(NOT_CONTROLLABLE, 1.0),
            setpoint(HEAT_PUMP, rated + 0.001),
            setpoint(PV, 0.5),  # a PV inverter cannot consume
        ]
    )
    assert [(r.device_id, r.status) for r in results][:2] == [
        (BATTERY, "accepted"),
        (FAILING, "rejected"),
    ]
    assert [r.reason for r in results][1:4] == [
        "simulated_failure",
        "unknown_device",
        "not_controllable",
    ]
    assert results[4].reason.startswith("outside_operating_range [0, 8")
    assert results[5].reason.startswith("outside_operating_range [-")
    again = client(cloud).send_setpoints([setpoint(FAILING, 2.0)])
    assert again[0].reason == "simulated_failure"  # a retry fails the same way
    assert readings(cloud, FAILING, START, END) == failing_before  # it never took the setpoint


def test_malformed_items_are_rejected_one_by_one(cloud):
    items = [
        {"device_id": BATTERY, "target_kw": "x", "valid_from": START.isoformat(),
         "valid_to": END.isoformat(), "activation_id": "A"},
        {"device_id": BATTERY, "target_kw": 1, "valid_from": "2025-02-27T15:15:00",
         "valid_to": END.isoformat(), "activation_id": "A"},
        {"device_id": BATTERY, "target_kw": 1, "valid_from": END.isoformat(),
         "valid_to": START.isoformat(), "activation_id": "A"},
        {"device_id": BATTERY, "target_kw": 1, "valid_from": START.isoformat(),
         "valid_to": END.isoformat()},
        "not an object",
    ]  # fmt: skip
    response = requests.post(f"{cloud.url}/api/v1/setpoints", json={"setpoints": items}, timeout=10)
    reasons = [r["reason"] for r in response.json()["results"]]
    assert all(r.startswith("invalid: ") for r in reasons)
    assert "no UTC offset" in reasons[1] and "after valid_from" in reasons[2]
    assert "activation_id" in reasons[3]
    bad = requests.post(f"{cloud.url}/api/v1/setpoints", json={"nope": 1}, timeout=10)
    assert bad.status_code == 400


def test_overlapping_setpoints_give_the_same_readings_in_any_order():
    later = START + timedelta(minutes=5)
    orders = [
        [setpoint(BATTERY, 1.0), setpoint(BATTERY, -1.0, start=later, activation="ACT-2")],
        [setpoint(BATTERY, -1.0, start=later, activation="ACT-2"), setpoint(BATTERY, 1.0)],
    ]
    seen = []
    for items in orders:
        service = build_device_cloud_simulator([], devices=FLEET)
        service.start(0)
        try:
            client(service).send_setpoints(items)
            seen.append(readings(service, BATTERY, START, END))
        finally:
            service.stop()
    assert seen[0] == seen[1]
    assert all(w > 0 for ts, w in seen[0].items() if ts < later)
    assert all(w < 0 for ts, w in seen[0].items() if ts >= later)


def test_a_failure_rate_fails_a_stable_share_of_devices():
    book = SetpointBook(failure_rate=0.3)
    draws = [book.fails(d["device_id"], "ACT-9") for d in FLEET]
    assert draws == [book.fails(d["device_id"], "ACT-9") for d in FLEET]
    assert 0.2 < sum(draws) / len(draws) < 0.4
    assert not any(SetpointBook().fails(d["device_id"], "ACT-9") for d in FLEET)
    with pytest.raises(ValueError):
        SetpointBook(failure_rate=1.5)
