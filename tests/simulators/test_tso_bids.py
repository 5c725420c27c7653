"""The TSO simulator judging bid documents, over real HTTP."""

from datetime import UTC, datetime, timedelta

import pytest
import requests
from lxml import etree

from domain.bidding import FlexTier, as_sent, bids_to_send, gate_closure, plan_bids, plan_documents
from domain.cim.acknowledgement import read_acknowledgement
from domain.cim.measurement_value import pool_measurement_document
from domain.cim.reserve_bid import reserve_bid_document
from domain.cim.timing import Period
from domain.isp import floor_to_isp
from integrations.cim.schemas import validate
from simulators.tso import build_tso_simulator

ISP = datetime(2025, 2, 27, 10, tzinfo=UTC)
GATE = gate_closure(ISP, "afrr")  # 09:35 UTC
POOL = "POOL-AFRR-1"
XML = {"Content-Type": "application/xml"}


class Clock:
    """The simulator's time of receipt, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(GATE - timedelta(minutes=10))


@pytest.fixture
def tso(clock):
    service = build_tso_simulator(clock=clock)
    service.start()
    yield service
    service.stop()


LADDER = (FlexTier(10, 2.0), FlexTier(60, 5.0))  # 2 MW at 15.00, 3 MW at 65.00


def bid_plan(isp=ISP, tiers=LADDER, sent=(), revisions=None):
    planned = plan_bids(POOL, "afrr", isp, "up", list(tiers))
    outgoing = bids_to_send(planned, sent, [(POOL, "afrr", isp)])
    [plan] = plan_documents(outgoing, revisions or {})
    return plan


def document(plan, created_at=None) -> bytes:
    xml = reserve_bid_document(plan, created_at=created_at or plan.gate - timedelta(minutes=11))
    validate(xml, "ReserveBid_MarketDocument")
    return xml


def post(tso, xml: bytes):
    response = requests.post(f"{tso.url}/api/v1/documents", data=xml, headers=XML, timeout=10)
    assert response.status_code == 200
    validate(response.content, "Acknowledgement_MarketDocument")
    return response.content, read_acknowledgement(etree.fromstring(response.content))


def test_a_good_bid_document_is_accepted_and_an_identical_resend_answered_identically(tso, clock):
    plan = bid_plan()
    answer, ack = post(tso, document(plan))
    assert ack.accepted and [r.code for r in ack.reasons] == ["A01"]
    assert ack.received.mrid == plan.document_mrid and ack.received.revision == 1
    assert ack.received.type == "A37" and ack.received.process_type == "A51"
    clock.now = GATE + timedelta(minutes=30)  # a retry after the gate: the same answer
    rebuilt = document(plan, created_at=GATE + timedelta(minutes=29))
    again, _ = post(tso, rebuilt)
    assert again == answer
    [entry] = requests.get(f"{tso.url}/api/v1/documents", timeout=10).json()["documents"]
    assert entry["kind"] == "ReserveBid_MarketDocument" and entry["times_received"] == 2


def test_a_bid_whose_gate_has_closed_at_receipt_is_rejected_with_a57(tso, clock):
    plan = bid_plan()
    clock.now = GATE  # at the closing instant the gate is closed
    _, ack = post(tso, document(plan))
    assert not ack.accepted and [r.code for r in ack.reasons] == ["A02", "A57"]
    assert plan.bids[0].bid_mrid in ack.reason_text
    assert "gate closed at 2025-02-27T09:35Z" in ack.reason_text
    clock.now = GATE - timedelta(seconds=1)  # the same bytes a second earlier: accepted
    _, ack = post(tso, document(plan))
    assert ack.accepted


def test_a_price_above_the_cap_is_rejected_with_b51(tso):
    plan = bid_plan(tiers=[FlexTier(14_900, 2.0)])  # 14,905.00 EUR/MWh: within the cap
    xml = document(plan).replace(b">14905.00<", b">15000.01<")
    validate(xml, "ReserveBid_MarketDocument")  # the XSD has no price cap: the TSO's rule does
    _, ack = post(tso, xml)
    assert not ack.accepted and [r.code for r in ack.reasons] == ["A02", "B51"]
    assert "price 15000.01 EUR/MWh outside [-15000, 15000]" in ack.reason_text


def test_quantities_outside_the_limits_and_every_broken_rule_are_named(tso):
    plan = bid_plan()
    xml = document(plan)
    xml = xml.replace(b"<quantity.quantity>2<", b"<quantity.quantity>1000<", 1)
    xml = xml.replace(b">65.00<", b">65.001<")
    _, ack = post(tso, xml)
    assert [r.code for r in ack.reasons] == ["A02", "A42", "B51"]
    assert "quantity 1000 MW outside [1, 999]" in ack.reason_text
    assert "not a multiple of 0.01" in ack.reason_text


def test_a_cancellation_is_accepted_only_for_a_bid_the_tso_holds(tso):
    first = bid_plan(tiers=[FlexTier(10, 2.0)])
    cancel = bid_plan(tiers=[], sent=as_sent(first.bids), revisions={(POOL, "afrr", first.gate): 1})
    assert cancel.bids[0].quantity_mw == 0
    _, ack = post(tso, document(cancel))  # the TSO never got revision 1
    assert [r.code for r in ack.reasons] == ["A02", "A42"]
    assert "cancels a bid the TSO does not hold" in ack.reason_text
    assert post(tso, document(first))[1].accepted
    assert post(tso, document(cancel))[1].accepted


def test_a_bid_document_for_another_mrid_revision_conflict_keeps_the_a51_rule(tso):
    plan = bid_plan()
    assert post(tso, document(plan))[1].accepted
    changed = document(plan).replace(b">65.00<", b">66.00<")
    _, ack = post(tso, changed)
    assert [r.code for r in ack.reasons] == ["A02", "A51"]


def test_other_documents_are_not_judged_by_bid_rules(tso, clock):
    clock.now = datetime(2030, 1, 1, tzinfo=UTC)  # long after the measured period
    period = Period(ISP, ISP + timedelta(minutes=15))
    values = {ISP + timedelta(minutes=i): 1.0 for i in range(15)}
    xml = pool_measurement_document(POOL, period, values, created_at=ISP)
    assert post(tso, xml)[1].accepted


def test_the_default_clock_is_the_real_time_of_receipt():
    service = build_tso_simulator()
    service.start()
    try:
        soon = floor_to_isp(datetime.now(UTC)) + timedelta(hours=2)
        _, ack = post(service, document(bid_plan(isp=soon)))
        assert ack.accepted
        _, ack = post(service, document(bid_plan()))  # 2025: closed long ago
        assert [r.code for r in ack.reasons] == ["A02", "A57"]
    finally:
        service.stop()


def test_a_bid_document_breaking_the_xsd_is_rejected_with_a94_and_no_bid_is_held(tso):
    plan = bid_plan()
    root = etree.fromstring(document(plan))
    namespace = etree.QName(root).namespace
    series = root.find(f"{{{namespace}}}Bid_TimeSeries")
    series.remove(series.find(f"{{{namespace}}}businessType"))  # mandatory in the XSD
    _, ack = post(tso, etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    assert not ack.accepted and [r.code for r in ack.reasons] == ["A02", "A94"]
    assert "businessType" in ack.reason_text
    cancel = bid_plan(sent=as_sent(plan.bids), tiers=())  # nothing held: a cancel is refused
    _, ack = post(tso, document(cancel))
    assert not ack.accepted and "does not hold" in ack.reason_text
