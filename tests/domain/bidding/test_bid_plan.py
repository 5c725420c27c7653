"""From device states to planned bids: flexibility, margin, ladder, identifiers, rules."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.bidding import PlannedBid, bid_problems, bids_to_send, plan_pool_bids, split_by_gate
from domain.flexibility import BatteryState, PoolDevice, device_flex_frame, pool_flex_ladders
from domain.isp import isp_of

ISP = isp_of(datetime(2025, 2, 27, 10, 0, tzinfo=UTC))
AS_OF = ISP.start - timedelta(minutes=30)


def big_battery(device_id: str, kw: float) -> BatteryState:
    return BatteryState(device_id, AS_OF, kw, 0.5, 4 * kw, kw, kw, 0.0, 0.1, 0.9)


def test_devices_to_a_price_ladder_of_valid_bids():
    devices = [
        PoolDevice("POOL-A", big_battery("CHEAP", 1200.0), Decimal("10"), availability=1.0),
        PoolDevice("POOL-A", big_battery("FREE", 300.0), None, availability=1.0),
        PoolDevice("POOL-A", big_battery("DEAR", 1600.0), Decimal("80.5"), availability=1.0),
        PoolDevice(
            "POOL-A", big_battery("GONE", 5000.0), Decimal("1"), excluded_periods=((AS_OF, None),)
        ),
        PoolDevice("POOL-B", big_battery("SMALL", 900.0), Decimal("1"), availability=1.0),
    ]
    ladders = pool_flex_ladders(device_flex_frame(devices, [ISP]))
    bids = plan_pool_bids(ladders.to_dict("records"), {"POOL-A": "afrr", "POOL-B": "mfrr"})
    # POOL-A: 0.3 MW at 0 + 1.2 at 10 -> MW 1 at 15.00; 1.6 at 80.5 -> MW 2 and 3 at 85.50.
    # The excluded 5 MW battery counts for nothing; POOL-B's 0.9 MW bids nothing.
    assert [(b.pool_id, b.direction, b.step, b.quantity_mw, b.price_eur_mwh) for b in bids] == [
        ("POOL-A", "up", 1, 1, Decimal("15.00")),
        ("POOL-A", "up", 2, 2, Decimal("85.50")),
        ("POOL-A", "down", 1, 1, Decimal("15.00")),
        ("POOL-A", "down", 2, 2, Decimal("85.50")),
    ]
    assert all(bid_problems(b) == [] for b in bids)
    assert len({b.bid_mrid for b in bids}) == 4


def test_bid_problems_name_every_broken_rule():
    bad = PlannedBid("P", "afrr", ISP.start + timedelta(minutes=1), "up", 1, 1000, Decimal("1.234"))
    problems = bid_problems(bad)
    assert any("not the start of an ISP" in p for p in problems)
    assert any("1000 MW" in p for p in problems)
    assert any("multiple of 0.01" in p for p in problems)
    zero = PlannedBid("P", "afrr", ISP.start, "up", 1, 0, Decimal("10.00"))
    assert bid_problems(zero) == ["quantity 0 MW outside [1, 999]"]


def test_a_late_run_sends_only_what_is_still_open():
    planned = [
        PlannedBid("P", "afrr", ISP.start, "up", 1, 1, Decimal("10.00")),
        PlannedBid("P", "afrr", ISP.end, "up", 1, 1, Decimal("10.00")),
    ]
    now = ISP.start - timedelta(minutes=20)  # past the first gate (09:35), before the second
    split = split_by_gate(planned, now)
    assert [b.isp_start for b in split.too_late] == [ISP.start]
    outgoing = bids_to_send(split.sendable, [], [("P", "afrr", ISP.end)])
    assert [(b.isp_start, b.revision) for b in outgoing] == [(ISP.end, 1)]
