"""Garbage JSON from the device cloud and the TSO: a clear error, never a crash of another kind.

Every JSON answer our clients parse is fuzzed (hypothesis): bytes that are not JSON, JSON of
the wrong shape, and the right keys with hostile values (NaN, huge numbers, nulls, strings
where numbers belong). The answers come from the simulators' fault hook, over real HTTP. Each
call either returns a well-formed result or raises ``UnexpectedAnswerError`` naming the URL
and the problem. One test goes through the activation sensor: its tick fails with that error,
records nothing and keeps its cursor; the next tick, once the TSO answers properly, takes the
activation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import dagster as dg
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.device_cloud_client import DeviceCloudClient, SetpointRequest
from integrations.http import UnexpectedAnswerError
from integrations.tso_client import ACTIVATIONS_PATH, TsoClient
from simulators.service import JsonService

AT = datetime(2025, 2, 27, 10, tzinfo=UTC)
KEYS = ("items", "next", "next_cursor", "has_more", "results", "sequence", "xml", "device_id")
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
SHAPED = st.fixed_dictionaries(
    {
        "items": st.lists(
            st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=5) | JSON_VALUES,
            max_size=3,
        )
        | JSON_VALUES,
        "next": JSON_VALUES,
        "next_cursor": JSON_VALUES,
        "has_more": st.just(False) | JSON_VALUES,
        "results": st.lists(JSON_VALUES, min_size=1, max_size=1) | JSON_VALUES,
    }
)


def _encoded(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


BODIES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"", b"null", b"[]", b"{}", b"<html>502 Bad Gateway</html>", b'{"items":']),
    JSON_VALUES.map(_encoded),
    SHAPED.map(_encoded),
)
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def cloud(faulty_device_cloud: JsonService) -> JsonService:
    """The module's device cloud, no fault armed."""
    faulty_device_cloud.faults.clear()
    return faulty_device_cloud


@pytest.fixture
def tso_sim(fault_free: JsonService) -> JsonService:
    """The module's TSO simulator, no fault armed."""
    return fault_free


def _cloud_client(service: JsonService) -> DeviceCloudClient:
    return DeviceCloudClient(base_url=service.url, timeout_s=2.0, setpoint_attempts=2,
                             setpoint_backoff_s=0.01)  # fmt: skip


def _serve_once(service: JsonService, method: str, path: str, body: bytes) -> None:
    service.faults.disarm()
    service.faults.garbage(method, path, body, times=None)


def _clear(error: UnexpectedAnswerError, path: str) -> None:
    text = str(error)
    assert path in text, text  # names where the answer came from


@FUZZ
@given(body=BODIES)
def test_the_activation_feed_answering_garbage_is_a_clear_error(tso_sim, body):
    _serve_once(tso_sim, "GET", ACTIVATIONS_PATH, body)
    client = TsoClient(base_url=tso_sim.url, timeout_s=2.0)
    try:
        page = client.fetch_activations(0)
    except UnexpectedAnswerError as error:
        _clear(error, ACTIVATIONS_PATH)
    else:
        assert all(isinstance(item.xml, bytes) for item in page.items)
        assert isinstance(page.next_sequence, int)


@FUZZ
@given(body=BODIES)
def test_device_states_answering_garbage_are_a_clear_error(cloud, body):
    _serve_once(cloud, "GET", "/api/v1/device-states", body)
    try:
        pages = list(_cloud_client(cloud).device_states(AT))
    except UnexpectedAnswerError as error:
        _clear(error, "/api/v1/device-states")
    else:
        assert all(isinstance(i, dict) and isinstance(i["device_id"], str)
                   for page in pages for i in page)  # fmt: skip


@FUZZ
@given(body=BODIES)
def test_measurements_answering_garbage_are_a_clear_error(cloud, body):
    _serve_once(cloud, "GET", "/api/v1/measurements", body)
    try:
        pages = list(_cloud_client(cloud).measurements(AT, AT + timedelta(hours=1)))
    except UnexpectedAnswerError as error:
        _clear(error, "/api/v1/measurements")
    else:
        assert all(isinstance(item, dict) for page in pages for item in page)


@FUZZ
@given(body=BODIES)
def test_onboardings_answering_garbage_are_a_clear_error(cloud, body):
    _serve_once(cloud, "GET", "/api/v1/onboardings", body)
    try:
        events = list(_cloud_client(cloud).onboardings_since(0))
    except UnexpectedAnswerError as error:
        _clear(error, "/api/v1/onboardings")
    else:
        assert all(isinstance(event, dict) and isinstance(cursor, int) for event, cursor in events)


@FUZZ
@given(body=BODIES)
def test_setpoints_answered_with_garbage_are_retried_then_unanswered(cloud, body):
    _serve_once(cloud, "POST", "/api/v1/setpoints", body)
    request = SetpointRequest("DEV-000001", Decimal("1.0"), AT, AT + timedelta(minutes=15),
                              "ACT-HOSTILE")  # fmt: skip
    posts_before = len(cloud.faults.seen("POST", "/api/v1/setpoints"))
    [result] = _cloud_client(cloud).send_setpoints([request])
    posts = len(cloud.faults.seen("POST", "/api/v1/setpoints")) - posts_before
    assert isinstance(result.status, str)
    assert result.accepted == (result.status == "accepted")
    if result.status == "unanswered":
        assert "no answer from the device cloud" in (result.reason or "")
        assert posts == 2  # retried once (setpoint_attempts=2)


@FUZZ
@given(body=BODIES)
def test_registrations_answered_with_garbage_are_a_clear_error(tso_sim, body):
    _serve_once(tso_sim, "POST", "/api/v1/registrations", body)
    client = TsoClient(base_url=tso_sim.url, timeout_s=2.0)
    try:
        answer = client.register_devices([{"device_ref": "X"}])
    except UnexpectedAnswerError as error:
        _clear(error, "/api/v1/registrations")
    else:
        assert all(isinstance(result, dict) for result in answer.body["results"])
        assert "answered_at" in answer.body


def test_a_sensor_tick_on_a_garbage_feed_fails_clearly_and_the_next_one_catches_up(
    db_url, faulty_tso, faulty_tso_feed, monkeypatch
):
    """End to end: the TSO's feed answers garbage once, then properly."""
    from domain.cim.activation import ActivatedBid
    from orchestration.resources import build_resources
    from sensors.activations import tso_activation_sensor

    monkeypatch.setenv("VPPAL_DISPATCH_IN_TICK", "0")  # intake only: no registry needed here
    faulty_tso.faults.clear()
    with psycopg.connect(db_url) as conn:
        conn.execute("truncate raw.activation_documents cascade")
    resources = {**build_resources(), "tso": TsoClient(base_url=faulty_tso.url, timeout_s=2.0)}
    instance = dg.DagsterInstance.ephemeral()
    item = faulty_tso_feed.publish_activation(
        pool_id="POOL-AFRR-1", market="afrr", direction="up", valid_from=AT,
        valid_to=AT + timedelta(minutes=15), bids=(ActivatedBid("B-HOSTILE", Decimal("1")),),
    )  # fmt: skip
    faulty_tso.faults.garbage("GET", ACTIVATIONS_PATH, b'{"items": [{"sequence": "x"}]}')
    context = dg.build_sensor_context(instance=instance, cursor=None, resources=resources)
    with pytest.raises(UnexpectedAnswerError, match=ACTIVATIONS_PATH):
        tso_activation_sensor(context)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select count(*) from raw.activation_documents").fetchone() == (0,)
    again = dg.build_sensor_context(instance=instance, cursor=None, resources=resources)
    result = tso_activation_sensor(again)
    assert [r.partition_key.startswith(item.mrid) for r in result.run_requests] == [True]


def test_a_feed_answering_500_twice_is_retried_within_the_tick(faulty_tso):
    """GETs are idempotent: a 500 is retried like a 502/503 (urllib3, backoff 0, 1 s)."""
    faulty_tso.faults.clear()
    faulty_tso.faults.fail("GET", ACTIVATIONS_PATH, status=500, times=2)
    client = TsoClient(base_url=faulty_tso.url, timeout_s=2.0)
    page = client.fetch_activations(0)
    gets = faulty_tso.faults.seen("GET", ACTIVATIONS_PATH)
    assert [seen.fault for seen in gets] == ["fail", "fail", None]
    assert page.next_sequence >= 0
