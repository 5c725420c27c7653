"""The device-cloud simulator serves measurements over HTTP; the client pages through them."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from integrations.device_cloud_client import DeviceCloudClient
from simulators.device_cloud import build_device_cloud_simulator
from simulators.profiles import device_power, load_real_profiles
from simulators.serve import load_sample_fleet

DEVICES = [
    {"device_id": "DEV-A", "device_type": "heat_pump", "rated_power_kw": "8", "site_id": "S1"},
    {"device_id": "DEV-B", "device_type": "battery", "rated_power_kw": "5", "site_id": "S1"},
    {"device_id": "DEV-C", "device_type": "pv_inverter", "rated_power_kw": "4", "site_id": "S2"},
    {"device_id": "DEV-D", "device_type": "other", "rated_power_kw": "3", "site_id": "S2"},
    {"device_id": "DEV-E", "device_type": "ev_charger", "rated_power_kw": "11", "site_id": "S3"},
]
PER_HOUR = {"DEV-A": 12, "DEV-B": 60, "DEV-C": 60, "DEV-D": 4, "DEV-E": 60}
START = datetime(2025, 2, 27, 11, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


@pytest.fixture(scope="module")
def cloud():
    service = build_device_cloud_simulator(
        [], devices=list(reversed(DEVICES)), afrr_devices=frozenset({"DEV-B"})
    )
    service.start(0)
    yield service
    service.stop()


def fetch(client: DeviceCloudClient, **kwargs) -> list[dict]:
    pages = list(client.measurements(START, END, **kwargs))
    assert all(0 < len(page) <= client.measurement_page_size for page in pages)
    return [item for page in pages for item in page]


def test_paging_through_an_hour_gives_every_reading_once_in_device_and_time_order(cloud):
    items = fetch(DeviceCloudClient(base_url=cloud.url, measurement_page_size=37))
    keys = [(item["device_id"], item["ts"]) for item in items]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)  # no duplicates
    assert Counter(item["device_id"] for item in items) == PER_HOUR  # no gaps
    first = datetime.fromisoformat(items[0]["ts"])
    assert first == START and first.utcoffset() == timedelta(0)
    for device_id, step in (("DEV-A", 300), ("DEV-D", 900), ("DEV-E", 60)):
        stamps = [datetime.fromisoformat(i["ts"]) for i in items if i["device_id"] == device_id]
        assert {b - a for a, b in itertools.pairwise(stamps)} == {timedelta(seconds=step)}
        assert stamps[0] >= START and stamps[-1] < END


def test_the_served_values_are_the_profiles_values(cloud):
    items = fetch(
        DeviceCloudClient(base_url=cloud.url, measurement_page_size=5000), device_id="DEV-A"
    )
    _, power = device_power(DEVICES[0], START, END, 300, load_real_profiles())
    assert [item["power_w"] for item in items] == pytest.approx(power.tolist(), abs=0.051)
    pv = fetch(DeviceCloudClient(base_url=cloud.url, measurement_page_size=5000), device_id="DEV-C")
    assert all(item["power_w"] <= 0 for item in pv) and min(i["power_w"] for i in pv) < 0


def test_page_size_does_not_change_the_readings(cloud):
    small = fetch(DeviceCloudClient(base_url=cloud.url, measurement_page_size=7))
    large = fetch(DeviceCloudClient(base_url=cloud.url, measurement_page_size=50_000))
    assert small == large


def test_resolution_4s_streams_the_afrr_device_and_leaves_the_others_native(cloud):
    items = fetch(
        DeviceCloudClient(base_url=cloud.url, measurement_page_size=1000), resolution="4s"
    )
    counts = Counter(item["device_id"] for item in items)
    assert counts == {**PER_HOUR, "DEV-B": 900}
    stamps = [datetime.fromisoformat(i["ts"]) for i in items if i["device_id"] == "DEV-B"]
    assert {b - a for a, b in itertools.pairwise(stamps)} == {timedelta(seconds=4)}
    answer = requests.get(
        f"{cloud.url}/api/v1/measurements",
        params={"from": START.isoformat(), "to": END.isoformat(), "resolution": "4s"},
        timeout=10,
    ).json()
    assert answer["resolution_s"] == {
        "DEV-A": 300,
        "DEV-B": 4,
        "DEV-C": 60,
        "DEV-D": 900,
        "DEV-E": 60,
    }
    assert answer["has_more"] is False and answer["next_cursor"] == len(answer["items"])


def test_a_cursor_is_an_offset_into_the_device_and_time_order(cloud):
    url = f"{cloud.url}/api/v1/measurements"
    window = {"from": "2025-02-27T12:00:00+01:00", "to": "2025-02-27T13:00:00+01:00"}
    whole = requests.get(url, params=window, timeout=10).json()["items"]
    part = requests.get(url, params={**window, "cursor": 70, "limit": 10}, timeout=10).json()
    assert part["items"] == whole[70:80]
    assert part["next_cursor"] == 80 and part["has_more"] is True
    beyond = requests.get(url, params={**window, "cursor": 10_000}, timeout=10).json()
    assert beyond["items"] == [] and beyond["has_more"] is False


def test_an_unencoded_plus_in_the_offset_is_understood(cloud):
    query = "from=2025-02-27T12:00:00+01:00&to=2025-02-27T12:15:00+01:00&device_id=DEV-D"
    answer = requests.get(f"{cloud.url}/api/v1/measurements?{query}", timeout=10)
    assert answer.status_code == 200
    assert [item["ts"] for item in answer.json()["items"]] == ["2025-02-27T11:00:00+00:00"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2025-02-27T12:00:00", "to": "2025-02-27T13:00:00+01:00"}, "no UTC offset"),
        ({"from": "2025-02-27T12:00:00+01:00", "to": "2025-02-27T13:00:00"}, "no UTC offset"),
        ({"from": "2025-02-27T12:00:00+01:00", "to": "2025-02-27T12:00:00+01:00"}, "after"),
        ({"from": "2025-02-27T12:00:00+01:00", "to": "2025-02-27T11:00:00+01:00"}, "after"),
        ({"from": "2025-02-27T00:00:00+01:00", "to": "2025-02-28T00:00:01+01:00"}, "24 h"),
        ({"from": "yesterday", "to": "2025-02-27T11:00:00+01:00"}, "not an ISO 8601"),
        ({"to": "2025-02-27T11:00:00+01:00"}, "'from' is required"),
        (
            {"from": "2025-02-27T12:00Z", "to": "2025-02-27T13:00Z", "resolution": "1s"},
            "resolution",
        ),
        ({"from": "2025-02-27T12:00Z", "to": "2025-02-27T13:00Z", "cursor": "x"}, "integer"),
        ({"from": "2025-02-27T12:00Z", "to": "2025-02-27T13:00Z", "limit": "0"}, "limit"),
    ],
)
def test_bad_windows_and_parameters_get_a_400_with_a_reason(cloud, params, message):
    answer = requests.get(f"{cloud.url}/api/v1/measurements", params=params, timeout=10)
    assert answer.status_code == 400
    assert message in answer.json()["error"]


def test_a_whole_day_is_allowed_and_an_unknown_device_is_404(cloud):
    url = f"{cloud.url}/api/v1/measurements"
    day = {"from": "2025-03-30T00:00:00+01:00", "to": "2025-03-31T00:00:00+02:00"}
    answer = requests.get(url, params={**day, "device_id": "DEV-D"}, timeout=10).json()
    assert len(answer["items"]) == 92  # the spring DST day has 23 hours
    missing = requests.get(url, params={**day, "device_id": "DEV-Z"}, timeout=10)
    assert missing.status_code == 404


def test_the_client_splits_a_long_window_into_days_and_refuses_naive_times(cloud):
    client = DeviceCloudClient(base_url=cloud.url, measurement_page_size=50_000)
    start = datetime(2025, 2, 26, tzinfo=UTC)
    items = [i for page in client.measurements(start, start + timedelta(hours=36)) for i in page]
    household = [i for i in items if i["device_id"] == "DEV-D"]
    assert len(household) == 36 * 4
    with pytest.raises(ValueError, match="offset"):
        next(client.measurements(datetime(2025, 2, 26), datetime(2025, 2, 27)))


def test_the_devices_endpoint_lists_what_the_cloud_knows(cloud):
    items = requests.get(f"{cloud.url}/api/v1/devices", timeout=10).json()["items"]
    assert [item["device_id"] for item in items] == sorted(d["device_id"] for d in DEVICES)
    battery = next(item for item in items if item["device_id"] == "DEV-B")
    assert battery == {
        "device_id": "DEV-B",
        "device_type": "battery",
        "rated_power_kw": 5.0,
        "site_id": "S1",
        "native_resolution_s": 60,
        "afrr_4s": True,
    }


def test_onboardings_still_page_beside_the_measurements():
    events = [{"sequence": n, "device_serial": f"S{n}"} for n in range(1, 4)]
    service = build_device_cloud_simulator(events, devices=DEVICES[:1])
    service.start()
    try:
        seen = list(DeviceCloudClient(base_url=service.url).onboardings_since(1))
    finally:
        service.stop()
    assert [event["sequence"] for event, _ in seen] == [2, 3]


def test_the_builder_refuses_devices_it_cannot_simulate():
    with pytest.raises(ValueError, match="unknown type"):
        build_device_cloud_simulator([], devices=[{**DEVICES[0], "device_type": "fridge"}])
    with pytest.raises(ValueError, match="rated_power_kw"):
        build_device_cloud_simulator([], devices=[{**DEVICES[0], "rated_power_kw": "0"}])


def test_the_sample_fleet_gives_the_device_cloud_its_devices_and_afrr_members():
    devices, afrr = load_sample_fleet()
    ids = {device["device_id"] for device in devices}
    # 520 + DEV-000521..524 + the batteries DEV-000528..536; 525-527 are bad rows
    assert len(devices) == len(ids) == 524 + 9
    assert {"DEV-000525", "DEV-000526", "DEV-000527"}.isdisjoint(ids)
    updated = next(device for device in devices if device["device_id"] == "DEV-000267")
    assert updated["strike_price_eur_mwh"] == "50"  # the changes batch overrides
    assert {"DEV-000267", "DEV-000463", "DEV-000521", "DEV-000522"} <= afrr
    assert {"DEV-000528", "DEV-000529"} <= afrr  # the aFRR pools' neighbourhood batteries
    assert afrr <= ids
    assert "DEV-000058" not in afrr  # its new membership is an imbalance pool
