from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path

import pytest
import requests
from lxml import etree

from domain.cim.acknowledgement import read_acknowledgement
from domain.cim.measurement_value import device_measurement_document, pool_measurement_document
from domain.cim.timing import Period
from domain.pseudonyms import pseudonym
from domain.tso_registration import registration_payload
from integrations.cim.schemas import validate
from integrations.tso_client import TsoClient, TsoUnavailableError
from simulators.service import HttpError, JsonService, RawBody
from simulators.tso import DocumentInbox, build_tso_simulator

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "cim" / "hostile"
XXE = (HOSTILE / "xxe.xml").read_bytes()
BILLION_LAUGHS = (HOSTILE / "billion_laughs.xml").read_bytes()
START = datetime(2025, 2, 27, 10, tzinfo=UTC)
PERIOD = Period(START, START + timedelta(minutes=15))
KEY = bytes(range(32))
XML = {"Content-Type": "application/xml"}


def pool_document(value: float = 1.0, revision: int = 1, created_at: datetime = START) -> bytes:
    values = {START + timedelta(minutes=i): value for i in range(15)}
    return pool_measurement_document(
        "POOL-AFRR-1", PERIOD, values, created_at=created_at, revision=revision
    )


@pytest.fixture
def tso():
    service = build_tso_simulator()
    service.start()
    yield service
    service.stop()


def post(tso, xml: bytes) -> tuple[int, object]:
    response = requests.post(f"{tso.url}/api/v1/documents", data=xml, headers=XML, timeout=10)
    assert response.headers["Content-Type"] == "application/xml"
    validate(response.content, "Acknowledgement_MarketDocument")
    return response.status_code, read_acknowledgement(etree.fromstring(response.content))


def listing(tso, kind=None):
    params = {"kind": kind} if kind else {}
    response = requests.get(f"{tso.url}/api/v1/documents", params=params, timeout=10)
    return response.json()["documents"]


def test_a_valid_document_is_acknowledged_a01_and_listed(tso):
    status, ack = post(tso, pool_document())
    assert status == 200 and ack.accepted
    assert ack.received.mrid.startswith("PM-") and ack.received.revision == 1
    assert ack.received.type == "A45" and ack.received.process_type == "A16"
    [entry] = listing(tso, "MeasurementValue_MarketDocument")
    assert entry["status"] == "accepted" and entry["purpose"] == "pool_measurements"
    assert listing(tso, "pool_measurements") == [entry]
    assert listing(tso, "pool_baselines") == []


def test_an_identical_resend_gets_the_same_answer_and_other_content_is_rejected_a51(tso):
    first = requests.post(f"{tso.url}/api/v1/documents", data=pool_document(), headers=XML)
    rebuilt_later = pool_document(created_at=START + timedelta(hours=2))
    again = requests.post(f"{tso.url}/api/v1/documents", data=rebuilt_later, headers=XML)
    assert again.content == first.content  # idempotent: the very same acknowledgement
    status, ack = post(tso, pool_document(value=2.0))
    assert status == 200 and not ack.accepted
    assert [r.code for r in ack.reasons] == ["A02", "A51"]
    assert "already received with other content" in ack.reason_text
    status, ack = post(tso, pool_document(value=2.0, revision=3))
    assert ack.accepted
    status, ack = post(tso, pool_document(value=3.0, revision=2))  # below the latest revision
    assert not ack.accepted and "already has revision 3" in ack.reason_text
    entries = listing(tso)
    accepted = [(e["revision"], e["times_received"]) for e in entries if e["status"] == "accepted"]
    assert accepted == [(1, 2), (3, 1)]
    assert [e["status"] for e in entries].count("rejected") == 2


def test_a_document_breaking_its_xsd_is_rejected_naming_the_error(tso):
    broken = pool_document().replace(b"<type>A45</type>", b"<type>ZZZ</type>")
    status, ack = post(tso, broken)
    assert status == 200 and not ack.accepted
    assert [r.code for r in ack.reasons] == ["A02", "A94"]
    assert "ZZZ" in ack.reason_text and "line 5" in ack.reason_text
    assert ack.received.mrid.startswith("PM-") and ack.received.type is None


@pytest.mark.parametrize("xml", [XXE, BILLION_LAUGHS, b"<not xml"], ids=["xxe", "laughs", "junk"])
def test_unsafe_or_malformed_xml_is_refused_with_400_and_an_a02_acknowledgement(tso, xml):
    status, ack = post(tso, xml)
    assert status == HTTPStatus.BAD_REQUEST and not ack.accepted
    assert ack.received.mrid is None
    assert listing(tso)[0]["status"] == "rejected"


def test_json_bodies_are_not_taken_as_documents_and_json_routes_still_work(tso):
    response = requests.post(f"{tso.url}/api/v1/documents", json={"a": 1}, timeout=10)
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    answer = TsoClient(base_url=tso.url).register_devices([])
    assert answer.body["results"] == []


def test_device_documents_show_pseudonyms_and_whether_the_tso_registered_them(tso):
    device = {"site_ean": "130539057492609625", "device_type": "battery", "rated_power_kw": 5}
    registered, unregistered = pseudonym(KEY, "DEV-000001"), pseudonym(KEY, "DEV-000002")
    client = TsoClient(base_url=tso.url)
    answer = client.register_devices([registration_payload(device, registered)])
    assert answer.body["results"][0]["status"] == "accepted"
    values = {START + timedelta(minutes=i): 2.5 for i in range(15)}
    xml = device_measurement_document(
        "POOL-AFRR-1", PERIOD, {registered: values, unregistered: values}, created_at=START
    )
    answer = client.submit_document(xml, *_identity(xml))
    assert answer.accepted
    [entry] = listing(tso, "device_measurements")
    assert entry["pseudonyms"] == sorted([registered, unregistered])
    assert entry["unregistered_pseudonyms"] == [unregistered]
    for listed in requests.get(f"{tso.url}/api/v1/registrations", timeout=10).json()[
        "registrations"
    ]:
        assert listed["device_ref"] == registered


def _identity(xml: bytes) -> tuple[str, int]:
    root = etree.fromstring(xml)
    ns = {"m": root.nsmap[None]}
    return root.findtext("m:mRID", namespaces=ns), int(
        root.findtext("m:revisionNumber", namespaces=ns)
    )


def test_the_client_retries_a_500_and_then_gets_the_acknowledgement():
    """A real HTTP server that answers 500 to the first post and judges the rest like the TSO."""
    inbox = DocumentInbox()
    calls = []
    flaky = JsonService("flaky-tso")

    @flaky.route("POST", "/api/v1/documents")
    def receive(request):
        calls.append(len(request.raw))
        if len(calls) == 1:
            raise HttpError(HTTPStatus.INTERNAL_SERVER_ERROR, "database restarting")
        status, answer = inbox.receive(request.raw)
        return status, RawBody(answer)

    flaky.start()
    try:
        client = TsoClient(base_url=flaky.url, backoff_s=0.05)
        xml = pool_document()
        answer = client.submit_document(xml, *_identity(xml))
    finally:
        flaky.stop()
    assert answer.accepted and answer.attempts == 2 and len(calls) == 2


def test_the_client_gives_up_after_its_attempts_when_nobody_answers():
    service = JsonService("gone")
    service.start()
    url = service.url
    service.stop()  # the port is free again: connections are refused
    client = TsoClient(base_url=url, document_attempts=3, backoff_s=0.01)
    xml = pool_document()
    with pytest.raises(TsoUnavailableError, match="after 3 attempts") as caught:
        client.submit_document(xml, *_identity(xml))
    assert caught.value.attempts == 3


def test_registration_payload_rated_power_is_still_normalised():
    payload = registration_payload(
        {"site_ean": "1", "device_type": "battery", "rated_power_kw": Decimal("5.000")}, "PSN-X"
    )
    assert payload["rated_power_kw"] == "5"
