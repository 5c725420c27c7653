"""The TSO simulator publishes signed activations against accepted bids and records the answers."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from lxml import etree

from domain.bidding import FlexTier, bids_to_send, gate_closure, plan_bids, plan_documents
from domain.cim.acknowledgement import read_acknowledgement
from domain.cim.activation import ActivatedBid, acknowledge_activation
from domain.cim.activation_response import (
    activation_response,
    build_activation_response_document,
)
from domain.cim.reserve_bid import reserve_bid_document
from domain.tso_signature import verify
from integrations.cim.activations import read_activation
from integrations.cim.schemas import validate
from simulators.activation_feed import ActivationFeed
from simulators.activations import BalancingSignal
from simulators.tso import build_tso_simulator

KEY = bytes(range(64, 96))
ISP = datetime(2025, 2, 27, 15, 15, tzinfo=UTC)  # 16:15 local: TenneT activated aFRR upward
GATE = gate_closure(ISP, "afrr")
XML = {"Content-Type": "application/xml"}


class Clock:
    """The simulator's time, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(GATE - timedelta(minutes=10))


@pytest.fixture
def feed(clock):
    return ActivationFeed(signing_key=KEY, clock=clock)


@pytest.fixture
def tso(clock, feed):
    service = build_tso_simulator(clock=clock, activations=feed)
    service.start()
    yield service
    service.stop()


def post(tso, xml: bytes):
    response = requests.post(f"{tso.url}/api/v1/documents", data=xml, headers=XML, timeout=10)
    assert response.status_code == 200
    return read_acknowledgement(etree.fromstring(response.content))


def send_bid(tso, pool: str, tiers, isp=ISP, market="afrr"):
    planned = plan_bids(pool, market, isp, "up", tiers)
    [plan] = plan_documents(bids_to_send(planned, [], [(pool, market, isp)]), {})
    return plan, post(tso, reserve_bid_document(plan, created_at=GATE - timedelta(minutes=11)))


def feed_page(tso, after=0, limit=100):
    response = requests.get(
        f"{tso.url}/api/v1/activations", params={"after": after, "limit": limit}, timeout=10
    )
    assert response.status_code == 200
    return response.json()


def test_only_accepted_in_the_money_bids_are_activated_as_the_clock_passes(tso, clock):
    plan, ack = send_bid(tso, "POOL-AFRR-1", [FlexTier(35, 2.0)])  # 2 MW at 40.00
    assert ack.accepted
    _, ack = send_bid(tso, "POOL-AFRR-2", [FlexTier(900, 1.0)])  # 905.00: above 177.60
    assert ack.accepted
    clock.now = GATE
    _, late = send_bid(tso, "POOL-AFRR-3", [FlexTier(35, 2.0)])  # after the gate: rejected
    assert not late.accepted

    clock.now = ISP - timedelta(seconds=1)
    assert feed_page(tso) == {"items": [], "next": 0, "has_more": False}
    clock.now = ISP
    page = feed_page(tso)
    [item] = page["items"]
    assert page["next"] == 1 and item["sequence"] == 1 and item["revision"] == 1
    xml = item["xml"].encode("utf-8")
    assert verify(KEY, xml, item["signature"])
    validate(xml, "Activation_MarketDocument")
    activation = read_activation(xml)
    assert activation.mrid == item["document_mrid"]
    assert (activation.pool_id, activation.market, activation.direction) == (
        "POOL-AFRR-1",
        "afrr",
        "up",
    )
    assert activation.bid_mrids == (plan.bids[0].bid_mrid,)
    assert activation.requested_mw == Decimal("0.241")
    assert (activation.valid_from, activation.valid_to) == (ISP, ISP + timedelta(minutes=15))
    assert activation.created_at == ISP

    clock.now = ISP + timedelta(minutes=12)  # two revisions became due
    page = feed_page(tso, after=1)
    revisions = [read_activation(i["xml"].encode()) for i in page["items"]]
    assert [(r.mrid, r.revision) for r in revisions] == [(activation.mrid, 2), (activation.mrid, 3)]
    assert [r.requested_mw for r in revisions] == [Decimal("0.451"), Decimal("0.893")]
    assert [r.valid_from for r in revisions] == [ISP + timedelta(minutes=m) for m in (5, 10)]
    assert feed_page(tso, after=3)["items"] == []
    pools = {read_activation(i["xml"].encode()).pool_id for i in feed_page(tso)["items"]}
    assert pools == {"POOL-AFRR-1"}


def test_pages_duplicates_and_manual_revisions(tso, clock, feed):
    send_bid(tso, "POOL-AFRR-1", [FlexTier(35, 2.0)])
    clock.now = ISP + timedelta(minutes=14)
    assert len(feed.publish_due()) == 3
    first = feed_page(tso, after=0, limit=2)
    assert [i["sequence"] for i in first["items"]] == [1, 2]
    assert first["next"] == 2 and first["has_more"]
    mrid = first["items"][0]["document_mrid"]

    duplicate = feed.publish_duplicate(mrid, 1)
    [again] = feed_page(tso, after=3)["items"]
    assert again["sequence"] == duplicate.sequence == 4
    assert (again["xml"], again["signature"]) == (
        first["items"][0]["xml"],
        first["items"][0]["signature"],
    )

    revised = feed.publish_revision(mrid, requested_mw=Decimal("0.5"))
    assert revised.revision == 4
    latest = read_activation(revised.xml)
    assert latest.requested_mw == Decimal("0.500") and latest.created_at == clock.now
    assert verify(KEY, revised.xml, revised.signature)


def test_the_day_is_published_up_to_the_clock_only(tso, clock, feed):
    for isp in (ISP, ISP + timedelta(minutes=15)):
        send_bid(tso, "POOL-AFRR-1", [FlexTier(35, 2.0)], isp=isp)
    clock.now = ISP + timedelta(minutes=7)
    published = feed.publish_day(ISP.date())
    assert [(i.revision, i.published_at) for i in published] == [
        (1, ISP),
        (2, ISP + timedelta(minutes=5)),
    ]
    assert feed.publish_day(ISP.date()) == []  # nothing new until the clock moves
    clock.now = ISP + timedelta(hours=2)
    later = feed.publish_day(ISP.date())
    assert later and all(i.published_at > ISP + timedelta(minutes=7) for i in later)
    assert [i.sequence for i in feed.items] == list(range(1, len(feed.items) + 1))


def test_acknowledgements_and_responses_are_recorded_on_the_timeline(tso, clock):
    send_bid(tso, "POOL-AFRR-1", [FlexTier(35, 2.0)])
    clock.now = ISP
    [item] = feed_page(tso)["items"]
    activation = read_activation(item["xml"].encode())

    clock.now = ISP + timedelta(seconds=2)
    ack_xml = acknowledge_activation(
        activation.mrid, activation.revision, created_at=clock.now, activation=activation
    )
    assert post(tso, ack_xml).accepted
    clock.now = ISP + timedelta(seconds=9)
    answer = activation_response(activation, created_at=clock.now, activated_mw=Decimal("0.2"))
    response_xml = build_activation_response_document(answer)
    assert post(tso, response_xml).accepted
    assert post(tso, response_xml).accepted  # a retry: the same answer, recorded once

    timeline = requests.get(
        f"{tso.url}/api/v1/activations/timeline",
        params={"mrid": activation.mrid},
        timeout=10,
    ).json()
    [entry] = timeline["activations"]
    assert (entry["revision"], entry["sequences"], entry["published_at"]) == (
        1,
        [1],
        ISP.isoformat(),
    )
    [ack] = entry["acknowledgements"]
    assert (
        ack["status"] == "accepted"
        and ack["received_at"] == (ISP + timedelta(seconds=2)).isoformat()
    )
    [response] = entry["responses"]
    assert response["status"] == "activated" and response["activated_mw"] == "0.200"
    assert response["detail"].startswith("A63")
    assert response["within_deadline"] is None  # aFRR has no response deadline here
    assert timeline["unmatched"] == []


def test_a_response_to_an_activation_never_published_is_rejected(tso, clock, feed):
    item = feed.publish_activation(
        pool_id="POOL-MFRR-1",
        market="mfrr",
        direction="up",
        valid_from=ISP,
        valid_to=ISP + timedelta(minutes=15),
        bids=(ActivatedBid("B-MANUAL-1", Decimal(1)),),
    )
    activation = read_activation(item.xml)
    forged = activation_response(
        replace(activation, mrid="ACT-NEVER-PUBLISHED"), created_at=clock.now
    )
    ack = post(tso, build_activation_response_document(forged))
    assert not ack.accepted and [r.code for r in ack.reasons] == ["A02", "A51"]
    assert "never published" in ack.reason_text

    clock.now = clock.now + timedelta(minutes=3)  # mFRR: 2 minutes to answer
    late = activation_response(activation, created_at=clock.now)
    assert post(tso, build_activation_response_document(late)).accepted
    [entry] = feed.timeline(activation.mrid)["activations"]
    assert entry["responses"][0]["within_deadline"] is False


def test_raw_documents_are_published_as_given_unsigned_or_tampered(tso, feed):
    feed.publish_raw(b"<not-an-activation/>", mrid="X-1", revision=1)
    good = feed.publish_activation(
        pool_id="POOL-AFRR-1",
        market="afrr",
        direction="down",
        valid_from=ISP,
        valid_to=ISP + timedelta(minutes=15),
        bids=(ActivatedBid("B-MANUAL-2", Decimal("0.3")),),
    )
    tampered = good.xml.replace(b"<quantity>0.300<", b"<quantity>3.000<")
    feed.publish_raw(tampered, signature=good.signature, mrid=good.mrid, revision=good.revision)
    items = feed_page(tso)["items"]
    assert items[0]["signature"] is None and items[0]["xml"] == "<not-an-activation/>"
    assert verify(KEY, items[1]["xml"].encode(), items[1]["signature"])
    assert not verify(KEY, items[2]["xml"].encode(), items[2]["signature"])
    assert feed.sign(tampered) != good.signature


def test_mfrr_activations_appear_before_their_isp():
    isp = ISP + timedelta(hours=1)
    signal = BalancingSignal(
        {}, {("up", isp + timedelta(minutes=3)): 300.0}, {("up", isp): Decimal(500)}
    )
    clock = Clock(gate_closure(isp, "mfrr") - timedelta(minutes=5))
    feed = ActivationFeed(signing_key=KEY, clock=clock, signal=signal)
    tso = build_tso_simulator(clock=clock, activations=feed)
    tso.start()
    try:
        send = plan_bids("POOL-MFRR-1", "mfrr", isp, "up", [FlexTier(95, 2.0)])
        [plan] = plan_documents(bids_to_send(send, [], [("POOL-MFRR-1", "mfrr", isp)]), {})
        assert post(tso, reserve_bid_document(plan, created_at=clock.now)).accepted
        clock.now = isp - timedelta(minutes=7, seconds=31)
        assert feed_page(tso)["items"] == []
        clock.now = isp - timedelta(minutes=7, seconds=30)
        [item] = feed_page(tso)["items"]
        activation = read_activation(item["xml"].encode())
        assert activation.market == "mfrr" and activation.requested_mw == Decimal("2.000")
        assert activation.created_at == isp - timedelta(minutes=7, seconds=30)
        assert (activation.valid_from, activation.valid_to) == (isp, isp + timedelta(minutes=15))
    finally:
        tso.stop()


def test_the_feed_refuses_bad_paging_parameters(tso):
    for params in ({"after": "x"}, {"after": -1}, {"limit": 0}):
        response = requests.get(f"{tso.url}/api/v1/activations", params=params, timeout=10)
        assert response.status_code == 400


def test_without_a_signing_key_the_feed_answers_503_and_publishes_nothing(clock):
    keys = []

    def no_key_at_first() -> bytes:
        keys.append(1)
        if len(keys) == 1:
            raise RuntimeError("VPPAL_TSO_SIGNING_KEY must be set when VPPAL_ENV=prod")
        return KEY

    feed = ActivationFeed(signing_key=no_key_at_first, clock=clock)
    tso = build_tso_simulator(clock=clock, activations=feed)
    tso.start()
    try:
        send_bid(tso, "POOL-AFRR-1", [FlexTier(35, 2.0)])
        clock.now = ISP
        response = requests.get(f"{tso.url}/api/v1/activations", timeout=10)
        assert response.status_code == 503
        assert "VPPAL_TSO_SIGNING_KEY must be set" in response.json()["error"]
        assert feed.items == []
        [item] = feed_page(tso)["items"]  # once the key is there, nothing was lost
        assert item["revision"] == 1 and verify(KEY, item["xml"].encode(), item["signature"])
    finally:
        tso.stop()
