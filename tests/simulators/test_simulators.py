"""The simulators speak HTTP for real; the clients reach them with requests."""

import pytest
import requests

from integrations.device_cloud_client import DeviceCloudClient
from integrations.tso_client import TsoClient
from simulators.device_cloud import build_device_cloud_simulator
from simulators.tso import build_tso_simulator


@pytest.fixture
def tso():
    service = build_tso_simulator()
    service.start()
    yield service
    service.stop()


def test_the_tso_accepts_good_registrations_and_rejects_bad_ones_with_a_reason(tso):
    answer = TsoClient(base_url=tso.url).register_devices(
        [
            {
                "device_ref": "D1",
                "site_ean": "130539057492609625",
                "device_type": "battery",
                "rated_power_kw": "5",
            },
            {
                "device_ref": "D2",
                "site_ean": "130539057492609624",
                "device_type": "battery",
                "rated_power_kw": "5",
            },
            {
                "device_ref": "D3",
                "site_ean": "130539057492609625",
                "device_type": "battery",
                "rated_power_kw": "0",
            },
            {"device_ref": "D4"},
        ]
    )
    assert answer.http_status == 200
    results = answer.body["results"]
    statuses = [(r["device_ref"], r["status"]) for r in results]
    assert statuses == [
        ("D1", "accepted"),
        ("D2", "rejected"),
        ("D3", "rejected"),
        ("D4", "rejected"),
    ]
    assert results[0]["reference"].startswith("TSO-REG-")
    assert "check digit" in results[1]["reason"]
    listed = requests.get(f"{tso.url}/api/v1/registrations", timeout=5).json()["registrations"]
    assert [r["device_ref"] for r in listed] == ["D1"]


def test_the_tso_refuses_a_body_that_is_not_a_registration_list(tso):
    response = requests.post(f"{tso.url}/api/v1/registrations", data=b"<xml/>", timeout=5)
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]


def test_the_device_cloud_pages_onboardings_from_a_cursor():
    events = [{"sequence": n, "device_serial": f"S{n}"} for n in range(1, 8)]
    service = build_device_cloud_simulator(events)
    service.start()
    try:
        client = DeviceCloudClient(base_url=service.url, page_size=3)
        seen = list(client.onboardings_since(2))
    finally:
        service.stop()
    assert [event["sequence"] for event, _ in seen] == [3, 4, 5, 6, 7]
    assert seen[-1][1] == 7
