"""Activation_MarketDocument 6.3: the TSO's activation, the BSP's acknowledgement and response."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from domain.cim import codes
from domain.cim.acknowledgement import read_acknowledgement
from domain.cim.activation import (
    ACTIVATION_NS,
    ActivatedBid,
    Activation,
    ActivationDocumentError,
    acknowledge_activation,
    activation_from_root,
    build_activation_document,
)
from domain.cim.activation_response import (
    activation_response,
    activation_response_from_root,
    build_activation_response_document,
    response_mrid,
)
from domain.isp import isp_of
from integrations.cim.activations import read_activation, read_activation_response
from integrations.cim.schemas import parse_document, validate

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cim"
ISP = datetime(2025, 2, 27, 10, 0, tzinfo=UTC)
KIND = "Activation_MarketDocument"


def activation(**changes) -> Activation:
    fields = {
        "mrid": "ACT-TEST0000000000000000000001",
        "revision": 1,
        "created_at": ISP,
        "pool_id": "POOL-AFRR-1",
        "market": "afrr",
        "direction": "up",
        "valid_from": ISP,
        "valid_to": ISP + timedelta(minutes=15),
        "bids": (
            ActivatedBid("B202502271000U001-AAAAAAAAAAAA", Decimal("0.237")),
            ActivatedBid("B202502271000U002-BBBBBBBBBBBB", Decimal("1.000")),
        ),
    }
    return Activation(**{**fields, **changes})


def test_an_activation_is_xsd_valid_and_reads_back_as_built():
    order = activation()
    xml = build_activation_document(order)
    validate(xml, KIND)
    assert etree.QName(etree.fromstring(xml)).namespace == ACTIVATION_NS
    read = read_activation(xml)
    assert read == order
    assert read.requested_mw == Decimal("1.237")
    assert read.bid_mrids == tuple(bid.bid_mrid for bid in order.bids)
    assert read.price_eur_mwh is None  # the 6.x schema has no price field
    assert read.valid_from.tzinfo is not None and read.created_at == ISP


def test_an_mfrr_activation_and_a_shorter_afrr_revision_read_back():
    mfrr = activation(market="mfrr", direction="down", valid_to=ISP + timedelta(minutes=30))
    assert read_activation(build_activation_document(mfrr)) == mfrr
    revision = activation(revision=2, valid_from=ISP + timedelta(minutes=5))
    xml = build_activation_document(revision)
    assert b"<resolution>PT10M</resolution>" in xml
    assert read_activation(xml) == revision


@pytest.mark.parametrize("hour, isp_number", [(0, 9), (1, 13)])
def test_an_activation_in_either_pass_of_the_repeated_autumn_hour(hour, isp_number):
    start = datetime(2025, 10, 26, hour, tzinfo=UTC)  # 02:00 local, CEST then CET
    order = activation(created_at=start, valid_from=start, valid_to=start + timedelta(minutes=15))
    xml = build_activation_document(order)
    validate(xml, KIND)
    assert f"<start>2025-10-26T0{hour}:00Z</start>".encode() in xml
    read = read_activation(xml)
    assert read == order
    assert isp_of(read.valid_from).number == isp_number
    assert read.valid_from.astimezone(isp_of(start).start.tzinfo) == start


def test_statnetts_real_activation_and_response_are_read():
    request = (FIXTURES / "SN_Activation_MarketDocument_Direct_Request.xml").read_bytes()
    _, root = parse_document(request)
    order = activation_from_root(root, sender="10X1001A1001A38Y", receiver="9999909919920")
    assert (order.market, order.direction, order.requested_mw) == ("mfrr", "up", Decimal(10))
    assert order.valid_from == datetime(2022, 2, 4, 13, 24, tzinfo=UTC)  # the series' period
    assert order.bid_mrids == ("45fb8cb1-a25a-469c-a1b3-ece91e45d1f0",)
    with pytest.raises(ActivationDocumentError, match="wrong_party"):
        activation_from_root(root)  # not from TenneT to us
    _, root = parse_document(
        (FIXTURES / "SN_Activation_MarketDocument_Direct_Response.xml").read_bytes()
    )
    answer = activation_response_from_root(root, receiver="10X1001A1001A38Y")
    assert answer.status == "activated" and answer.activated_mw == Decimal(10)
    assert answer.activation_mrid == "vRPUllMkQFemNLJ6LDQs1A"


def breaks(xml: bytes, old: bytes, new: bytes) -> bytes:
    """``xml`` with the first ``old`` replaced by ``new``."""
    assert old in xml
    return xml.replace(old, new, 1)


GOOD = build_activation_document(activation())
MRID = activation().mrid


@pytest.mark.parametrize(
    "xml, reason, words",
    [
        (b"<Activation_MarketDocument", "unreadable", "not well-formed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x>&e;</x>',
            "unreadable",
            "DOCTYPE",
        ),
        (breaks(GOOD, b"<revisionNumber>1</revisionNumber>\n", b""), "schema", "not valid"),
        (
            breaks(
                GOOD,
                b"<createdDateTime>2025-02-27T10:00:00Z",
                b"<createdDateTime>2025-02-27T10:00:00",
            ),
            "naive_time",
            "createdDateTime '2025-02-27T10:00:00' has no UTC offset",
        ),
        (
            GOOD.replace(b"<start>2025-02-27T10:00Z</start>", b"<start>2025-02-27T10:00</start>"),
            "naive_time",
            "activation_Time_Period.timeInterval/start",
        ),
        (
            GOOD.replace(b"<end>2025-02-27T10:15Z</end>", b"<end>tomorrow</end>"),
            "unparseable_time",
            "'tomorrow' is not a date and time",
        ),
        (breaks(GOOD, b"<quantity>0.237", b"<quantity>-0.237"), "negative_quantity", "-0.237"),
        (
            GOOD.replace(b"<end>2025-02-27T10:15Z</end>", b"<end>2025-02-27T10:00Z</end>"),
            "empty_interval",
            "not after its start",
        ),
        (
            breaks(GOOD, b"<process.processType>A51", b"<process.processType>A40"),
            "unknown_process_type",
            "process type A40 is neither aFRR (A51) nor mFRR (A47)",
        ),
        (
            breaks(GOOD, b"<type>A40</type>", b"<type>A41</type>"),
            "not_an_activation",
            "type A41",
        ),
        (
            breaks(
                GOOD,
                b'"NNL">POOL-AFRR-1</registeredResource.mRID>\n    <Period>',
                b'"NNL">POOL-AFRR-2</registeredResource.mRID>\n    <Period>',
            ),
            "inconsistent_series",
            "more than one pool",
        ),
        (
            breaks(
                GOOD,
                b'<sender_MarketParticipant.mRID codingScheme="A01">10X1001A1001A361',
                b'<sender_MarketParticipant.mRID codingScheme="A01">10XVPPAL-DEMO-AB',
            ),
            "wrong_party",
            "not by 10X1001A1001A361",
        ),
    ],
)
def test_the_reader_refuses_a_bad_document_naming_it_and_the_reason(xml, reason, words):
    with pytest.raises(ActivationDocumentError) as caught:
        read_activation(xml)
    error = caught.value
    assert error.reason == reason
    assert words in str(error)
    if reason not in ("unreadable",):
        assert error.mrid == MRID and MRID in str(error)


def test_an_aFRR_activation_beyond_one_isp_or_an_mfrr_one_shorter_is_refused():
    long = GOOD.replace(b"2025-02-27T10:15Z", b"2025-02-27T10:20Z").replace(b"PT15M", b"PT20M")
    with pytest.raises(ActivationDocumentError, match=r"interval_length.*one ISP or less"):
        read_activation(long)
    short = GOOD.replace(b"A51", b"A47").replace(b"A96", b"A97")
    short = short.replace(b"2025-02-27T10:15Z", b"2025-02-27T10:10Z").replace(b"PT15M", b"PT10M")
    with pytest.raises(ActivationDocumentError, match="at least one ISP") as caught:
        read_activation(short)
    assert caught.value.revision == 1


def test_other_documents_are_not_activations():
    ack = (FIXTURES / "SN_Positive_Acknowledgement_MarketDocument.xml").read_bytes()
    with pytest.raises(ActivationDocumentError, match="not_an_activation"):
        read_activation(ack)


def test_an_activation_that_breaks_a_rule_cannot_be_built():
    with pytest.raises(ActivationDocumentError, match="negative_quantity"):
        activation(bids=(ActivatedBid("B1", Decimal("-1")),))
    with pytest.raises(ActivationDocumentError, match="naive_time"):
        activation(valid_from=datetime(2025, 2, 27, 10))
    with pytest.raises(ActivationDocumentError, match="empty_interval"):
        activation(valid_to=ISP)
    with pytest.raises(ActivationDocumentError, match="finer than 1 kW"):
        activation(bids=(ActivatedBid("B1", Decimal("0.0001")),))
    with pytest.raises(ActivationDocumentError, match="carries no price"):
        activation(price_eur_mwh=Decimal(100))


def test_the_acknowledgement_of_an_activation_goes_from_the_bsp_to_tenet_and_is_valid():
    order = activation()
    at = ISP + timedelta(seconds=3)
    xml = acknowledge_activation(order.mrid, order.revision, created_at=at, activation=order)
    validate(xml, "Acknowledgement_MarketDocument")
    ack = read_acknowledgement(etree.fromstring(xml))
    assert ack.accepted
    assert (ack.sender_mrid, ack.receiver_mrid) == (
        codes.AGGREGATOR_EIC_PLACEHOLDER,
        codes.TENNET_EIC,
    )
    assert (ack.received.mrid, ack.received.revision, ack.received.type) == (order.mrid, 1, "A40")
    assert ack.received.process_type == "A51"
    assert xml == acknowledge_activation(order.mrid, 1, created_at=at, activation=order)
    refusal = acknowledge_activation(order.mrid, 1, created_at=at, problem="signature mismatch")
    validate(refusal, "Acknowledgement_MarketDocument")
    negative = read_acknowledgement(etree.fromstring(refusal))
    assert not negative.accepted and [r.code for r in negative.reasons] == ["A02", "A94"]
    assert negative.mrid != ack.mrid and "signature mismatch" in negative.reason_text


def test_a_full_activation_response_is_valid_and_reads_back():
    order = activation()
    answer = activation_response(order, created_at=ISP + timedelta(seconds=20))
    xml = build_activation_response_document(answer)
    validate(xml, KIND)
    assert b"<type>A41</type>" in xml and xml.count(b"<marketObjectStatus.status>A07<") == 2
    assert b"<order_MarketDocument.mRID>" + order.mrid.encode() in xml
    read = read_activation_response(xml)
    assert read == answer
    assert read.status == "activated" and read.activated_mw == order.requested_mw
    assert read.mrid == response_mrid(order.mrid, 1) and read.activation_revision == 1


def test_a_partial_response_fills_the_bids_in_order_with_reason_a63():
    answer = activation_response(activation(), created_at=ISP, activated_mw=Decimal("0.5"))
    assert [b.quantity_mw for b in answer.bids] == [Decimal("0.237"), Decimal("0.263")]
    xml = build_activation_response_document(answer)
    validate(xml, KIND)
    read = read_activation_response(xml)
    assert read.status == "activated" and read.activated_mw == Decimal("0.500")
    assert read.reason_code == "A63" and "0.500 of 1.237 MW" in read.reason_text


def test_an_unavailable_response_says_why_and_is_valid():
    order = activation(bids=(ActivatedBid("B1", Decimal(1)),))
    answer = activation_response(
        order, created_at=ISP, activated_mw=Decimal(0), reason_code="B18", reason_text="cloud down"
    )
    xml = build_activation_response_document(answer)
    validate(xml, KIND)
    assert b"<marketObjectStatus.status>A11<" in xml and b"<quantity>0.000<" in xml
    read = read_activation_response(xml)
    assert (read.status, read.reason_code, read.reason_text) == ("unavailable", "B18", "cloud down")
    default = activation_response(order, created_at=ISP, activated_mw=Decimal(0))
    assert default.reason_code == "B59"
    with pytest.raises(ValueError, match="not one of"):
        activation_response(order, created_at=ISP, activated_mw=Decimal(0), reason_code="A01")
    with pytest.raises(ValueError, match="exceeds"):
        activation_response(order, created_at=ISP, activated_mw=Decimal(2))


def test_a_response_is_not_an_activation_and_a_bad_status_is_refused():
    answer = activation_response(activation(), created_at=ISP)
    xml = build_activation_response_document(answer)
    with pytest.raises(ActivationDocumentError, match="not_an_activation"):
        read_activation(xml)
    lying = xml.replace(b"<marketObjectStatus.status>A07<", b"<marketObjectStatus.status>A11<", 1)
    with pytest.raises(ActivationDocumentError, match=r"inconsistent_series.*status A11"):
        read_activation_response(lying)
