from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.bidding import PlannedBid, SentBid, as_sent, bids_to_send

ISP = datetime(2025, 2, 27, 10, 0, tzinfo=UTC)
NEXT = ISP + timedelta(minutes=15)
SCOPE = [("POOL", "afrr", ISP)]


def bid(step=1, quantity=3, price="55.00", isp=ISP, direction="up") -> PlannedBid:
    return PlannedBid("POOL", "afrr", isp, direction, step, quantity, Decimal(price))


def sent(planned: PlannedBid, revision: int = 1) -> SentBid:
    b = planned
    return SentBid(
        b.bid_mrid, b.pool_id, b.market, b.isp_start, b.direction, b.step, revision,
        b.quantity_mw, b.price_eur_mwh,
    )  # fmt: skip


def summary(outgoing):
    return [(b.step, b.quantity_mw, str(b.price_eur_mwh), b.revision) for b in outgoing]


def test_new_bids_go_out_as_revision_one():
    assert summary(bids_to_send([bid(1), bid(2, 1, "80.00")], [], SCOPE)) == [
        (1, 3, "55.00", 1),
        (2, 1, "80.00", 1),
    ]


def test_unchanged_bids_are_not_sent_again():
    assert bids_to_send([bid()], [sent(bid())], SCOPE) == []
    # the same price written differently is the same price
    assert bids_to_send([bid(price="55")], [sent(bid())], SCOPE) == []


def test_a_changed_quantity_or_price_is_the_next_revision():
    assert summary(bids_to_send([bid(quantity=2)], [sent(bid(), 1)], SCOPE)) == [(1, 2, "55.00", 2)]
    assert summary(bids_to_send([bid(price="56.00")], [sent(bid(), 4)], SCOPE)) == [
        (1, 3, "56.00", 5)
    ]


def test_a_bid_no_longer_planned_is_cancelled_with_quantity_zero():
    out = bids_to_send([bid(1)], [sent(bid(1)), sent(bid(2, 1, "80.00"), 2)], SCOPE)
    assert summary(out) == [(2, 0, "80.00", 3)]
    assert out[0].is_cancellation and out[0].bid_mrid == bid(2).bid_mrid


def test_a_cancelled_bid_is_not_cancelled_again_but_can_come_back():
    cancelled = sent(bid(quantity=0), 2)
    assert bids_to_send([], [cancelled], SCOPE) == []
    assert summary(bids_to_send([bid(quantity=4)], [cancelled], SCOPE)) == [(1, 4, "55.00", 3)]


def test_bids_outside_the_scope_are_left_alone():
    other_isp = sent(bid(isp=NEXT))
    assert bids_to_send([], [other_isp], SCOPE) == []
    with pytest.raises(ValueError, match="outside the scope"):
        bids_to_send([bid(isp=NEXT)], [], SCOPE)


def test_a_pool_that_lost_its_flexibility_cancels_everything_in_scope():
    held = [sent(bid(1)), sent(bid(1, direction="down"))]
    out = bids_to_send([], held, SCOPE)
    assert sorted((b.direction, b.quantity_mw, b.revision) for b in out) == [
        ("down", 0, 2),
        ("up", 0, 2),
    ]


def test_revision_999_is_the_last():
    with pytest.raises(ValueError, match="999"):
        bids_to_send([bid(quantity=1)], [sent(bid(), 999)], SCOPE)


def test_duplicate_planned_bids_are_refused():
    with pytest.raises(ValueError, match="share the mRID"):
        bids_to_send([bid(), bid(quantity=2)], [], SCOPE)


def test_a_plan_send_replan_cycle():
    first = bids_to_send([bid(1), bid(2, 2, "90.00")], [], SCOPE)
    held = as_sent(first)
    assert bids_to_send([bid(1), bid(2, 2, "90.00")], held, SCOPE) == []
    second = bids_to_send([bid(1, quantity=4)], held, SCOPE)
    assert summary(second) == [(1, 4, "55.00", 2), (2, 0, "90.00", 2)]
    held = {b.bid_mrid: b for b in held} | {b.bid_mrid: b for b in as_sent(second)}
    assert bids_to_send([bid(1, quantity=4)], held.values(), SCOPE) == []


def test_older_revisions_in_the_history_are_ignored():
    history = [sent(bid(quantity=5), 3), sent(bid(), 1), sent(bid(quantity=2), 2)]
    assert summary(bids_to_send([bid(quantity=5)], history, SCOPE)) == []
    assert summary(bids_to_send([bid()], history, SCOPE)) == [(1, 3, "55.00", 4)]
