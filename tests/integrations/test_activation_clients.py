"""The platform's clients for activations (TSO) and setpoints (device cloud), over real HTTP."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
import requests
from lxml import etree

from domain.cim.acknowledgement import read_acknowledgement
from domain.cim.activation import ActivatedBid, acknowledge_activation
from domain.cim.activation_response import (
    activation_response,
    build_activation_response_document,
)
from domain.tso_signature import signature_problem
from integrations.cim.activations import read_activation
from integrations.device_cloud_client import DeviceCloudClient, SetpointRequest
from integrations.tso_client import TsoClient
from simulators.activation_feed import ActivationFeed
from simulators.device_cloud import build_device_cloud_simulator
from simulators.fleet import generate_fleet
from simulators.service import JsonService, Request
from simulators.tso import build_tso_simulator

KEY = bytes(range(7, 39))
NOW = datetime(2025, 2, 27, 12, 0, tzinfo=UTC)
FLEET = generate_fleet(60).tables()["devices"]
BATTERIES = [
    d["device_id"] for d in FLEET if d["device_type"] == "battery" and d["controllable"] == "true"
][:5]


@pytest.fixture
def feed():
    return ActivationFeed(signing_key=KEY, clock=lambda: NOW)


@pytest.fixture
def tso(feed):
    service = build_tso_simulator(clock=lambda: NOW, activations=feed)
    service.start()
    yield service
    service.stop()


def publish(feed, n: int) -> None:
    for i in range(n):
        start = NOW + timedelta(minutes=15 * i)
        feed.publish_activation(
            pool_id="POOL-AFRR-1",
            market="afrr",
            direction="up",
            valid_from=start,
            valid_to=start + timedelta(minutes=15),
            bids=(ActivatedBid(f"B-{i}", Decimal("0.25")),),
        )


def test_the_tso_client_pages_the_feed_with_the_exact_signed_bytes(tso, feed):
    client = TsoClient(base_url=tso.url, activation_page_size=2)
    empty = client.fetch_activations(0)
    assert (empty.items, empty.next_sequence, empty.has_more) == ((), 0, False)
    publish(feed, 5)
    first = client.fetch_activations(0)
    assert [i.sequence for i in first.items] == [1, 2] and first.has_more
    assert first.next_sequence == 2
    everything = list(client.activations_after(0))
    assert [i.sequence for i in everything] == [1, 2, 3, 4, 5]
    assert [i.xml for i in everything] == [item.xml for item in feed.items]
    for item in everything:
        assert signature_problem(KEY, item.xml, item.signature) is None
        activation = read_activation(item.xml)
        assert (activation.mrid, activation.revision) == (item.document_mrid, item.revision)
    assert list(client.activations_after(5)) == []
    assert [i.sequence for i in client.activations_after(3)] == [4, 5]


def test_answers_go_back_through_submit_document_and_show_on_the_timeline(tso, feed):
    publish(feed, 1)
    client = TsoClient(base_url=tso.url)
    [item] = client.fetch_activations(0).items
    activation = read_activation(item.xml)
    ack = acknowledge_activation(
        activation.mrid, activation.revision, created_at=NOW, activation=activation
    )
    ack_mrid = read_acknowledgement(etree.fromstring(ack)).mrid
    assert client.submit_document(ack, ack_mrid, 1).accepted  # an acknowledgement has no revision
    answer = activation_response(activation, created_at=NOW)
    response = build_activation_response_document(answer)
    answered = client.submit_document(response, answer.mrid, answer.revision)
    assert answered.accepted and answered.acknowledgement.received.revision == 1
    [entry] = client.activation_timeline(activation.mrid)["activations"]
    assert [a["status"] for a in entry["acknowledgements"]] == ["accepted"]
    assert [r["status"] for r in entry["responses"]] == ["activated"]


def test_an_unsigned_item_comes_through_as_such(tso, feed):
    feed.publish_raw(b"<x/>", mrid="M", revision=1)
    [item] = TsoClient(base_url=tso.url).fetch_activations(0).items
    assert (item.xml, item.signature, item.document_mrid) == (b"<x/>", None, "M")
    assert signature_problem(KEY, item.xml, item.signature) == "unsigned"


@pytest.fixture
def cloud():
    service = build_device_cloud_simulator([], devices=FLEET)
    service.start(0)
    yield service
    service.stop()


def requests_for(devices, target_kw="1.5"):
    return [
        SetpointRequest(d, Decimal(target_kw), NOW, NOW + timedelta(minutes=15), "ACT-C")
        for d in devices
    ]


def test_setpoints_are_sent_in_batches_with_one_result_per_item_in_order(cloud):
    client = DeviceCloudClient(base_url=cloud.url, setpoint_batch_size=2)
    items = requests_for([*BATTERIES, "DEV-NOPE"])
    results = client.send_setpoints(items)
    assert [r.device_id for r in results] == [*BATTERIES, "DEV-NOPE"]
    assert [r.accepted for r in results] == [True] * len(BATTERIES) + [False]
    assert results[-1].reason == "unknown_device"
    assert client.send_setpoints([]) == []


def test_a_lost_answer_is_retried_and_the_setpoint_taken_once(cloud):
    """A front that forwards the first POST but answers 502, as a proxy losing the reply."""
    front = JsonService("flaky-front")
    calls = []

    @front.route("POST", "/api/v1/setpoints")
    def forward(request: Request):
        answer = requests.post(f"{cloud.url}/api/v1/setpoints", json=request.body, timeout=10)
        calls.append(answer.json())
        if len(calls) == 1:
            return HTTPStatus.BAD_GATEWAY, {"error": "upstream reply lost"}
        return HTTPStatus.OK, answer.json()

    front.start()
    try:
        client = DeviceCloudClient(base_url=front.url, setpoint_backoff_s=0.01)
        [result] = client.send_setpoints(requests_for(BATTERIES[:1]))
    finally:
        front.stop()
    assert len(calls) == 2
    assert calls[0]["results"][0]["duplicate"] is False
    assert result.accepted and result.duplicate  # the retry found it already held
    held = requests.get(f"{cloud.url}/api/v1/setpoints", timeout=10).json()["setpoints"]
    assert len(held) == 1


def test_a_setpoint_needs_aware_times():
    with pytest.raises(ValueError, match="no UTC offset"):
        SetpointRequest("D", Decimal(1), datetime(2025, 2, 27), NOW, "A").as_json()
