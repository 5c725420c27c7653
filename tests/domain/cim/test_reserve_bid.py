from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
from lxml import etree

from domain.bidding import (
    MARKETS,
    FlexTier,
    OutgoingBid,
    as_sent,
    bids_to_send,
    day_interval,
    plan_bids,
    plan_documents,
)
from domain.cim.reserve_bid import (
    RESERVE_BID_NS,
    bid_market,
    read_bids,
    reserve_bid_document,
)
from domain.isp import isp_count, isps_of_day
from integrations.cim.schemas import bundled_schemas, parse_document, validate

KIND = "ReserveBid_MarketDocument"
FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "fixtures"
    / "cim"
    / "SN_Simple_ReserveBid_MarketDocument.xml"
)
ISP = datetime(2025, 2, 27, 10, tzinfo=UTC)
CREATED = datetime(2025, 2, 27, 9, 0, 7, tzinfo=UTC)
POOL = "POOL-AFRR-1"
NS = {"b": RESERVE_BID_NS}


def build(plan, created_at=CREATED) -> bytes:
    xml = reserve_bid_document(plan, created_at=created_at)
    validate(xml, KIND)  # every document built here is checked against its XSD
    return xml


def first_plan(pool=POOL, market="afrr", isp=ISP, up=None, down=None, sent=(), revisions=None):
    planned = []
    if up:
        planned += plan_bids(pool, market, isp, "up", up)
    if down:
        planned += plan_bids(pool, market, isp, "down", down)
    outgoing = bids_to_send(planned, sent, [(pool, market, isp)])
    [plan] = plan_documents(outgoing, revisions or {})
    return plan


def root_of(xml: bytes) -> etree._Element:
    return parse_document(xml)[1]


def test_the_newest_bundled_reservebid_version_is_the_one_written():
    versions = sorted(ns for ns in bundled_schemas() if ns.startswith(RESERVE_BID_NS[:-1]))
    assert versions[-1] == RESERVE_BID_NS and len(versions) == 7
    validate(FIXTURE.read_bytes(), KIND)  # the reader below also reads this 7.2 example
    assert len(read_bids(root_of(FIXTURE.read_bytes()))) == 4


def test_a_ladder_of_several_steps_becomes_one_series_per_bid():
    up = [FlexTier(None, 1.4), FlexTier(40, 3.2), FlexTier(Decimal("59.999"), 6.9)]
    plan = first_plan(up=up, down=[FlexTier(-24, 2.7)])
    root = root_of(build(plan))
    assert root.findtext("b:mRID", namespaces=NS) == plan.document_mrid
    assert root.findtext("b:revisionNumber", namespaces=NS) == "1"
    assert root.findtext("b:type", namespaces=NS) == "A37"
    assert root.findtext("b:process.processType", namespaces=NS) == "A51"
    assert root.findtext("b:receiver_MarketParticipant.mRID", namespaces=NS) == "10X1001A1001A361"
    assert root.findtext("b:domain.mRID", namespaces=NS) == "10YNL----------L"
    assert root.findtext("b:createdDateTime", namespaces=NS) == "2025-02-27T09:00:07Z"
    period = root.find("b:reserveBid_Period.timeInterval", NS)
    assert [period.findtext("b:start", namespaces=NS), period.findtext("b:end", namespaces=NS)] == [
        "2025-02-27T10:00Z",
        "2025-02-27T10:15Z",
    ]
    bids = read_bids(root)
    # up: 1 MW at 0 + 5, 2 MW (1.4..3.2 -> MW 2 and 3) at 45, 3 MW at 65 (59.999 + 5 rounded up)
    assert [(b.direction, b.quantity_mw, b.price_eur_mwh) for b in bids] == [
        ("up", 1, Decimal("5.00")),
        ("up", 2, Decimal("45.00")),
        ("up", 3, Decimal("65.00")),
        ("down", 2, Decimal("-19.00")),
    ]
    assert [b.mrid for b in bids] == [b.bid_mrid for b in plan.bids]
    assert {(b.isp_start, b.isp_end, b.resolution, b.points) for b in bids} == {
        (ISP, ISP + timedelta(minutes=15), "PT15M", 1)
    }
    series = root.findall("b:Bid_TimeSeries", NS)
    assert [s.findtext("b:flowDirection.direction", namespaces=NS) for s in series] == [
        "A01",
        "A01",
        "A01",
        "A02",
    ]
    for element in series:
        assert (
            element.findtext("b:standard_MarketProduct.marketProductType", namespaces=NS) == "A01"
        )
        assert element.findtext("b:status/b:value", namespaces=NS) == "A06"
        assert element.findtext("b:RegisteredResource/b:mRID", namespaces=NS) == POOL
        assert (
            element.findtext("b:Period/b:Point/b:minimum_Quantity.quantity", namespaces=NS) == "1"
        )
    assert bid_market(root) == "afrr"


def test_the_same_plan_builds_the_same_bytes():
    plan = first_plan(up=[FlexTier(10, 2.0)])
    assert build(plan) == build(plan)
    assert build(plan) != build(plan, created_at=CREATED + timedelta(seconds=1))


def test_a_cancellation_is_quantity_zero_under_the_same_bid_mrid_and_a_new_document_revision():
    first = first_plan(up=[FlexTier(10, 2.0)])
    sent = as_sent(first.bids)
    key = (POOL, "afrr", first.gate)
    outgoing = bids_to_send([], sent, [(POOL, "afrr", ISP)])
    [plan] = plan_documents(outgoing, {key: first.revision})
    assert plan.revision == 2 and plan.document_mrid != first.document_mrid
    root = root_of(build(plan))
    [bid] = read_bids(root)
    assert bid.mrid == first.bids[0].bid_mrid
    assert bid.quantity_mw == 0 and bid.price_eur_mwh == Decimal("15.00")
    assert root.findtext("b:revisionNumber", namespaces=NS) == "2"
    [series] = root.findall("b:Bid_TimeSeries", NS)
    assert series.findtext("b:status/b:value", namespaces=NS) == "A09"
    assert series.find("b:Period/b:Point/b:minimum_Quantity.quantity", NS) is None


@pytest.mark.parametrize(("day", "isps"), [(date(2025, 3, 30), 92), (date(2025, 10, 26), 100)])
def test_dst_days_give_one_document_per_gate_with_distinct_utc_isps(day, isps):
    assert isp_count(day) == isps
    planned = []
    for isp in isps_of_day(day):
        planned += plan_bids(POOL, "afrr", isp.start, "up", [FlexTier(10, 1.0)])
    scope = [(POOL, "afrr", isp.start) for isp in isps_of_day(day)]
    plans = plan_documents(bids_to_send(planned, [], scope), {})
    assert len(plans) == isps  # each ISP has a gate of its own
    intervals = []
    for plan in plans:
        [bid] = read_bids(root_of(build(plan, created_at=plan.gate - timedelta(hours=1))))
        intervals.append((bid.isp_start, bid.isp_end))
    assert len(set(intervals)) == isps
    assert all(end - start == timedelta(minutes=15) for start, end in intervals)
    assert all(a[1] == b[0] for a, b in pairwise(intervals))
    whole = day_interval(day)
    assert intervals[0][0].strftime("%Y-%m-%dT%H:%MZ") == whole.start
    assert intervals[-1][1].strftime("%Y-%m-%dT%H:%MZ") == whole.end


def test_the_repeated_autumn_hour_has_its_own_utc_intervals_and_mrids():
    cest = datetime(2025, 10, 26, 2, tzinfo=UTC) - timedelta(hours=2)  # 02:00+02:00
    cet = cest + timedelta(hours=1)  # 02:00+01:00
    docs = [first_plan(isp=isp, up=[FlexTier(10, 1.0)]) for isp in (cest, cet)]
    bids = [read_bids(root_of(build(p)))[0] for p in docs]
    assert [b.isp_start for b in bids] == [
        datetime(2025, 10, 26, 0, tzinfo=UTC),
        datetime(2025, 10, 26, 1, tzinfo=UTC),
    ]
    assert len({b.mrid for b in bids}) == 2 and docs[0].document_mrid != docs[1].document_mrid


@pytest.mark.parametrize("market", sorted(MARKETS))
def test_every_market_has_valid_codes_and_reads_back_as_itself(market):
    pool = f"POOL-{market.upper()}-1"
    lowest = MARKETS[market].min_price_eur_mwh
    plan = first_plan(pool, market, up=[FlexTier(lowest - 10, 1.0), FlexTier(70, 2.0)])
    root = root_of(build(plan))
    assert bid_market(root) == market
    assert read_bids(root)[0].price_eur_mwh == lowest  # raised to the minimum, written as is


def test_a_bid_breaking_a_rule_or_of_another_pool_is_refused():
    plan = first_plan(up=[FlexTier(10, 2.0)])
    [bid] = plan.bids
    too_dear = replace(plan, bids=(replace(bid, price_eur_mwh=Decimal("15000.01")),))
    with pytest.raises(ValueError, match="outside"):
        reserve_bid_document(too_dear, created_at=CREATED)
    too_big = replace(plan, bids=(replace(bid, quantity_mw=1000),))
    with pytest.raises(ValueError, match="1000 MW outside"):
        reserve_bid_document(too_big, created_at=CREATED)
    other: OutgoingBid = replace(bid, pool_id="POOL-AFRR-2")
    with pytest.raises(ValueError, match="is not of POOL-AFRR-1"):
        reserve_bid_document(replace(plan, bids=(bid, other)), created_at=CREATED)
    with pytest.raises(ValueError, match="twice"):
        reserve_bid_document(replace(plan, bids=(bid, bid)), created_at=CREATED)
    with pytest.raises(ValueError, match="no bids"):
        reserve_bid_document(replace(plan, bids=()), created_at=CREATED)
    first_zero = replace(bid, quantity_mw=0)  # quantity 0 in revision 1 is not a cancellation
    with pytest.raises(ValueError, match="outside"):
        reserve_bid_document(replace(plan, bids=(first_zero,)), created_at=CREATED)
