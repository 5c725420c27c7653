from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from domain.cim import codes
from domain.cim.acknowledgement import (
    ReceivedDocument,
    accepted_reasons,
    acknowledgement_document,
    read_acknowledgement,
    rejected_reasons,
)
from integrations.cim.schemas import parse_document, validate

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cim"
NOW = datetime(2025, 2, 27, 11, 6, tzinfo=UTC)
RECEIVED = ReceivedDocument("PM-ABCDEF", 3, "A45", "A16", "2025-02-27T11:05:30Z")


def test_an_acceptance_is_valid_and_reads_back():
    xml = acknowledgement_document(
        mrid="ACK-1", created_at=NOW, received=RECEIVED, reasons=accepted_reasons()
    )
    validate(xml, "Acknowledgement_MarketDocument")
    ack = read_acknowledgement(etree.fromstring(xml))
    assert ack.accepted and ack.status == "accepted"
    assert ack.received == RECEIVED
    assert ack.sender_mrid == codes.TENNET_EIC
    assert ack.receiver_mrid == codes.AGGREGATOR_EIC_PLACEHOLDER
    assert ack.reasons[0].code == "A01"


def test_a_rejection_carries_a02_and_the_specific_reason():
    xml = acknowledgement_document(
        mrid="ACK-2",
        created_at=NOW,
        received=RECEIVED,
        reasons=rejected_reasons("A51", "mRID PM-ABCDEF revision 3 was already received"),
    )
    validate(xml, "Acknowledgement_MarketDocument")
    ack = read_acknowledgement(etree.fromstring(xml))
    assert not ack.accepted and ack.status == "rejected"
    assert [r.code for r in ack.reasons] == ["A02", "A51"]
    assert "already received" in ack.reason_text


def test_fields_of_an_unreadable_document_that_do_not_fit_the_schema_are_left_out():
    received = ReceivedDocument("X" * 61, 0, None, None, "yesterday")
    xml = acknowledgement_document(
        mrid="ACK-3", created_at=NOW, received=received, reasons=rejected_reasons("A94", "bad")
    )
    validate(xml, "Acknowledgement_MarketDocument")
    ack = read_acknowledgement(etree.fromstring(xml))
    assert ack.received == ReceivedDocument(None, None, None, None, None)
    with pytest.raises(ValueError, match="at least one reason"):
        acknowledgement_document(mrid="A", created_at=NOW, received=None, reasons=())


def test_the_real_statnett_acknowledgements_read_correctly():
    _, positive = parse_document(
        (FIXTURES / "SN_Positive_Acknowledgement_MarketDocument.xml").read_bytes()
    )
    ack = read_acknowledgement(positive)
    assert ack.accepted
    assert ack.received.mrid == "e8c4962e-9abf-4be2-9606-eade69506fc7"
    assert ack.received.revision == 1
    negative_file = FIXTURES / "SN_Negative_Acknowledgement_MarketDocument_Document_level.xml"
    _, negative = parse_document(negative_file.read_bytes())
    ack = read_acknowledgement(negative)
    assert ack.status == "rejected"
    assert ack.reasons[0].code == "A02" and "is not an UUID" in ack.reasons[0].text


def test_reading_another_document_kind_as_an_acknowledgement_is_refused():
    _, bid = parse_document((FIXTURES / "SN_Simple_ReserveBid_MarketDocument.xml").read_bytes())
    with pytest.raises(ValueError, match="not an acknowledgement"):
        read_acknowledgement(bid)
