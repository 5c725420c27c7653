"""Hostile XML at every entry point: external entities, entity expansion, XInclude, depth.

The entry points that parse XML from outside (``grep etree.fromstring``: all go through
``integrations.cim.schemas.parse_document``): the activation intake (``take_document``, on
signed documents, so the parser is what refuses them), ``read_activation`` and
``read_activation_response``, the TSO client reading an acknowledgement, the TSO simulator
receiving a document, and the sensor end to end. Every hostile document must be refused with
a clear error, without reading a local file (a secret file's token appears nowhere) and
without a network call (a listener on loopback counts zero requests).
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.cim.activation import ActivatedBid, ActivationDocumentError
from domain.tso_signature import sign
from integrations.cim.activations import read_activation, read_activation_response
from integrations.cim.schemas import CimValidationError, UnsafeXmlError, parse_document
from integrations.dispatch.intake import take_document
from integrations.secrets import load_tso_signing_key
from integrations.tso_client import DOCUMENTS_PATH, TsoClient, TsoUnavailableError
from simulators.service import JsonService

AT = datetime(2025, 2, 27, 10, tzinfo=UTC)
BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 2 else "&lol;" * 10}">'
        for n in range(2, 10)
    )
    + "]>"
)


@pytest.fixture(scope="module")
def listener() -> Iterator[JsonService]:
    """A loopback HTTP service that records every request: a remote entity would hit it."""
    service = JsonService("entity-target")
    service.faults.record = True
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> tuple[Path, str]:
    """A local file whose token must never show up anywhere."""
    token = f"TOKEN-{secrets.token_hex(8)}"
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(token)
    return path, token


def _payloads(listener: JsonService, secret: Path) -> dict[str, tuple[str, str]]:
    """Name -> (what goes before the root element, what goes into the mRID)."""
    remote = f"{listener.url}/entity"
    return {
        "xxe-file": (f'<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>', "&x;"),
        "xxe-passwd": ('<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;"),
        "xxe-http": (f'<!DOCTYPE d [<!ENTITY x SYSTEM "{remote}">]>', "&x;"),
        "parameter-entity": (f'<!DOCTYPE d [<!ENTITY % p SYSTEM "{remote}/p"> %p;]>', ""),
        "external-dtd": (f'<!DOCTYPE d SYSTEM "{remote}/dtd">', ""),
        "billion-laughs": (BILLION_LAUGHS, "&lol9;"),
        "lower-case-doctype": (f'<!doctype d [<!entity x system "{remote}">]>', "&x;"),
    }


def _hostile(xml: bytes, prolog: str, mrid_insert: str) -> bytes:
    """``xml`` with ``prolog`` after the XML declaration and ``mrid_insert`` in its mRID."""
    text = xml.decode()
    declaration_end = text.index("?>") + 2 if text.startswith("<?xml") else 0
    text = text[:declaration_end] + prolog + text[declaration_end:]
    text = text.replace("<mRID>", f"<mRID>{mrid_insert}", 1)
    return text.encode()


@pytest.fixture(scope="module")
def activation_xml(faulty_tso_feed) -> bytes:
    """A valid activation document as the TSO publishes it."""
    item = faulty_tso_feed.publish_activation(
        pool_id="POOL-AFRR-1",
        market="afrr",
        direction="up",
        valid_from=AT,
        valid_to=AT + timedelta(minutes=15),
        bids=(ActivatedBid("B-XML", Decimal("1")),),
    )
    return item.xml


def _no_leak(listener: JsonService, token: str, *texts: object) -> None:
    assert listener.faults.seen() == [], "a network call was made"
    for text in texts:
        assert token not in str(text) and "root:x:0:0" not in str(text)


ENTRY_POINTS = ["xxe-file", "xxe-passwd", "xxe-http", "parameter-entity", "external-dtd",
                "billion-laughs", "lower-case-doctype"]  # fmt: skip


@pytest.mark.parametrize("payload", ENTRY_POINTS)
def test_read_activation_and_response_refuse_it_as_unreadable(
    payload, activation_xml, listener, secret_file
):
    path, token = secret_file
    prolog, insert = _payloads(listener, path)[payload]
    xml = _hostile(activation_xml, prolog, insert)
    began = time.monotonic()
    for reader in (read_activation, read_activation_response):
        with pytest.raises(ActivationDocumentError) as caught:
            reader(xml)
        assert caught.value.reason == "unreadable"
        assert "DOCTYPE and ENTITY declarations are refused" in str(caught.value)
        _no_leak(listener, token, caught.value)
    assert time.monotonic() - began < 1.0  # refused before any expansion


@pytest.mark.parametrize("payload", ENTRY_POINTS)
def test_the_intake_refuses_a_signed_hostile_activation_with_an_alert(
    payload, activation_xml, listener, secret_file, db_url, tmp_path
):
    path, token = secret_file
    prolog, insert = _payloads(listener, path)[payload]
    xml = _hostile(activation_xml, prolog, insert)
    key = load_tso_signing_key()
    with psycopg.connect(db_url) as conn:
        result = take_document(
            conn, xml, sign(key, xml), source="tso-feed", key=key, inbox_dir=tmp_path
        )
        rows = conn.execute(
            "select d.status, d.reason_code, d.reason, q.record::text, a.message"
            " from raw.activation_documents d"
            " join ops.quarantine q on q.source_sha256 = d.document_sha256"
            " join ops.alerts a on a.alert_key = 'activation_refused:' || d.document_sha256"
            " where d.document_sha256 = %s",
            (result.document_sha256,),
        ).fetchall()
    assert result.status == "refused" and result.reason_code == "unreadable"
    [(status, code, reason, record, message)] = rows
    assert (status, code) == ("refused", "unreadable")
    assert "DOCTYPE and ENTITY declarations are refused" in reason
    assert not any(tmp_path.iterdir())  # nothing went to the inbox
    _no_leak(listener, token, reason, record, message)


@pytest.mark.parametrize("payload", ENTRY_POINTS)
def test_a_hostile_acknowledgement_is_never_taken_for_an_answer(
    payload, fault_free, listener, secret_file
):
    """The TSO (or someone in between) answers a document with a hostile acknowledgement."""
    from domain.cim.measurement_value import pool_measurement_document
    from domain.cim.timing import Period

    path, token = secret_file
    prolog, insert = _payloads(listener, path)[payload]
    document = pool_measurement_document(
        "POOL-X", Period(AT, AT + timedelta(minutes=1)), {AT: 1.0}, created_at=AT
    )
    _, root = parse_document(document)
    mrid = root.findtext("{*}mRID")
    answer = requests.post(
        f"{fault_free.url}{DOCUMENTS_PATH}",
        data=document,
        headers={"Content-Type": "application/xml"},
        timeout=5,
    ).content
    fault_free.faults.garbage(
        "POST", DOCUMENTS_PATH, _hostile(answer, prolog, insert), content_type="application/xml",
        times=None,
    )  # fmt: skip
    client = TsoClient(base_url=fault_free.url, document_attempts=2, backoff_s=0.01)
    with pytest.raises(TsoUnavailableError) as caught:
        client.submit_document(document, mrid, 1)
    assert "DOCTYPE and ENTITY declarations are refused" in str(caught.value)
    _no_leak(listener, token, caught.value)


@pytest.mark.parametrize("payload", ENTRY_POINTS)
def test_the_tso_simulator_refuses_a_hostile_document_with_a_negative_acknowledgement(
    payload, fault_free, listener, secret_file, activation_xml
):
    path, token = secret_file
    prolog, insert = _payloads(listener, path)[payload]
    response = requests.post(
        f"{fault_free.url}{DOCUMENTS_PATH}",
        data=_hostile(activation_xml, prolog, insert),
        headers={"Content-Type": "application/xml"},
        timeout=5,
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"A02" in response.content and b"DOCTYPE" in response.content
    _no_leak(listener, token, response.text)


def test_xinclude_and_remote_schema_locations_are_never_fetched(
    activation_xml, listener
):  # fmt: skip
    remote = f"{listener.url}/include"
    text = activation_xml.decode()
    with_include = text.replace(
        "<mRID>",
        f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{remote}"/><mRID>',
        1,
    ).encode()
    with pytest.raises(ActivationDocumentError) as caught:
        read_activation(with_include)
    assert caught.value.reason == "schema"  # an unknown element, not an inclusion
    located = text.replace(
        "<Activation_MarketDocument ",
        '<Activation_MarketDocument xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:schemaLocation="urn:x {remote}.xsd" ',
        1,
    ).encode()
    assert read_activation(located).mrid  # xsi attributes are allowed; the schema is ours
    assert listener.faults.seen() == []


def test_nesting_beyond_the_parser_limits_is_refused_fast():
    deep = b"<a>" * 100_000 + b"</a>" * 100_000
    began = time.monotonic()
    with pytest.raises(CimValidationError, match="not well-formed"):
        parse_document(deep)
    assert time.monotonic() - began < 2.0


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_any_bytes_are_parsed_or_refused_with_a_cim_error_only(data):
    with contextlib.suppress(CimValidationError):  # any other exception fails the test
        parse_document(data)


@settings(max_examples=50, deadline=None)
@given(
    keyword=st.sampled_from(["DOCTYPE", "doctype", "DocType", "ENTITY", "entity"]),
    spacing=st.sampled_from(["", " ", "\t", "\n"]),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-32"]),
    where=st.sampled_from(["prolog", "comment-after"]),
)
def test_a_declaration_in_any_spelling_or_encoding_is_refused(keyword, spacing, encoding, where):
    declaration = f'<!{spacing}{keyword} d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    body = (
        '<Activation_MarketDocument xmlns="urn:iec62325.351:tc57wg16:451-7:activationdocument:6:2">'
        "<mRID>&x;</mRID></Activation_MarketDocument>"
    )
    text = f'<?xml version="1.0" encoding="{encoding}"?>' + (
        declaration + body if where == "prolog" else body + "<!--" + declaration + "-->"
    )
    with pytest.raises(CimValidationError) as caught:
        parse_document(text.encode(encoding))
    assert "root:x:0:0" not in str(caught.value)


def test_the_sensor_refuses_a_signed_hostile_activation_end_to_end(
    db_url, faulty_tso, faulty_tso_feed, activation_xml, listener, secret_file, monkeypatch
):
    """The TSO's feed publishes a signed XXE document: the tick records it as refused, alerts,
    requests no run, and the good activation after it is still taken."""
    from orchestration.resources import build_resources
    from sensors.activations import tso_activation_sensor

    path, token = secret_file
    monkeypatch.setenv("VPPAL_DISPATCH_IN_TICK", "0")
    faulty_tso.faults.clear()
    hostile = _hostile(activation_xml, *_payloads(listener, path)["xxe-file"])
    faulty_tso_feed.publish_raw(hostile, signature=faulty_tso_feed.sign(hostile))
    good = faulty_tso_feed.publish_activation(
        pool_id="POOL-AFRR-2", market="afrr", direction="up", valid_from=AT,
        valid_to=AT + timedelta(minutes=15), bids=(ActivatedBid("B-XML-2", Decimal("1")),),
    )  # fmt: skip
    resources = {**build_resources(), "tso": TsoClient(base_url=faulty_tso.url, timeout_s=2.0)}
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), cursor=None, resources=resources
    )
    result = tso_activation_sensor(context)
    keys = [request.partition_key for request in result.run_requests]
    assert any(key.startswith(good.mrid) for key in keys)
    with psycopg.connect(db_url) as conn:
        refused = conn.execute(
            "select reason_code, reason from raw.activation_documents where status = 'refused'"
            " and reason like '%%DOCTYPE%%'"
        ).fetchall()
    assert refused and all(code == "unreadable" for code, _ in refused)
    _no_leak(listener, token, refused)


def test_the_refusal_is_an_unsafe_xml_error_for_the_declaration_itself():
    with pytest.raises(UnsafeXmlError):
        parse_document(b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>')
