from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.bidding import OutgoingBid, document_mrid, gate_closure, plan_documents

ISP = datetime(2025, 2, 27, 10, 0, tzinfo=UTC)


def out(pool="POOL", isp=ISP, direction="up", step=1, market="afrr", revision=1) -> OutgoingBid:
    return OutgoingBid(pool, market, isp, direction, step, 2, Decimal("50.00"), revision)


def test_one_document_per_pool_market_and_gate():
    bids = [
        out(direction="down"),
        out(step=2),
        out(),
        out(pool="OTHER"),
        out(isp=ISP + timedelta(minutes=15)),
    ]
    documents = plan_documents(bids, {})
    assert [(d.pool_id, d.gate, len(d.bids)) for d in documents] == [
        ("OTHER", gate_closure(ISP, "afrr"), 1),
        ("POOL", gate_closure(ISP, "afrr"), 3),
        ("POOL", gate_closure(ISP + timedelta(minutes=15), "afrr"), 1),
    ]
    ordered = documents[1].bids
    assert [(b.direction, b.step) for b in ordered] == [("up", 1), ("up", 2), ("down", 1)]
    assert documents[1].period == ("2025-02-27T10:00Z", "2025-02-27T10:15Z")


def test_a_second_document_for_the_same_gate_gets_the_next_revision_and_its_own_mrid():
    gate = gate_closure(ISP, "afrr")
    first = plan_documents([out()], {})[0]
    second = plan_documents([out(revision=2)], {("POOL", "afrr", gate): first.revision})[0]
    assert (first.revision, second.revision) == (1, 2)
    assert first.document_mrid == document_mrid("POOL", "afrr", gate, 1)
    assert second.document_mrid != first.document_mrid


def test_nothing_to_send_means_no_document():
    assert plan_documents([], {}) == []


def test_revisions_run_out_at_999():
    gate = gate_closure(ISP, "afrr")
    with pytest.raises(ValueError, match="revisions exhausted"):
        plan_documents([out()], {("POOL", "afrr", gate): 999})
