from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.bidding import bid_allowed, first_open_isp, gate_closure, gates_of_day, split_by_gate

AMS = ZoneInfo("Europe/Amsterdam")
SPRING_FORWARD = date(2025, 3, 30)
FALL_BACK = date(2025, 10, 26)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_afrr_gate_closes_25_minutes_before_the_isp():
    isp = utc(2025, 2, 27, 10, 0)
    assert gate_closure(isp, "afrr") == utc(2025, 2, 27, 9, 35)
    assert bid_allowed(utc(2025, 2, 27, 9, 34, 59), isp, "afrr")
    assert not bid_allowed(utc(2025, 2, 27, 9, 35), isp, "afrr")  # closed at the instant itself
    assert not bid_allowed(utc(2025, 2, 27, 10, 5), isp, "afrr")


def test_gate_per_market():
    isp = utc(2025, 2, 27, 10, 0)
    assert gate_closure(isp, "mfrr") == utc(2025, 2, 27, 9, 35)
    assert gate_closure(isp, "imbalance") == utc(2025, 2, 27, 9, 55)
    assert gate_closure(isp, "congestion") == utc(2025, 2, 27, 9, 55)


def test_local_times_are_the_same_instants():
    isp_local = datetime(2025, 2, 27, 11, 0, tzinfo=AMS)  # = 10:00 UTC
    assert gate_closure(isp_local, "afrr") == utc(2025, 2, 27, 9, 35)
    assert bid_allowed(datetime(2025, 2, 27, 10, 34, tzinfo=AMS), isp_local, "afrr")


def test_a_time_that_is_not_an_isp_start_or_naive_is_refused():
    with pytest.raises(ValueError, match="start of an ISP"):
        gate_closure(utc(2025, 2, 27, 10, 7), "afrr")
    with pytest.raises(ValueError, match="naive"):
        bid_allowed(datetime(2025, 2, 27, 9, 0), utc(2025, 2, 27, 10, 0), "afrr")


@pytest.mark.parametrize(("day", "count"), [(SPRING_FORWARD, 92), (FALL_BACK, 100)])
def test_dst_days_have_a_gate_per_isp_25_minutes_ahead(day, count):
    gates = gates_of_day(day, "afrr")
    assert len(gates) == count
    assert all(g.isp.start - g.closes_at == timedelta(minutes=25) for g in gates)
    closes = [g.closes_at for g in gates]
    assert closes == sorted(set(closes))  # distinct and increasing
    assert all(b - a == timedelta(minutes=15) for a, b in pairwise(closes))
    assert all(g.closes_at.utcoffset() == timedelta(0) for g in gates)


def test_fall_back_day_repeated_hour_has_its_own_gates():
    gates = {g.isp.number: g.closes_at for g in gates_of_day(FALL_BACK, "afrr")}
    assert gates[1] == utc(2025, 10, 25, 21, 35)  # 00:00+02 -> 22:00 UTC - 25 min
    assert gates[9] == utc(2025, 10, 25, 23, 35)  # 02:00+02
    assert gates[13] == utc(2025, 10, 26, 0, 35)  # 02:00+01, the repeated hour
    assert gates[100] == utc(2025, 10, 26, 22, 20)  # 23:45+01


def test_spring_forward_day_skips_the_missing_hour():
    gates = {g.isp.number: g.closes_at for g in gates_of_day(SPRING_FORWARD, "afrr")}
    assert gates[8] == utc(2025, 3, 30, 0, 20)  # 01:45+01
    assert gates[9] == utc(2025, 3, 30, 0, 35)  # 03:00+02, 15 minutes later
    # local clocks: the ISP starts at 03:00+02, its gate closes at 01:35+01 (85 local minutes)
    assert gates[9].astimezone(AMS).isoformat() == "2025-03-30T01:35:00+01:00"


@settings(deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    )
)
def test_first_open_isp_is_the_earliest_allowed(now):
    for market in ("afrr", "imbalance"):
        isp = first_open_isp(now, market)
        assert bid_allowed(now, isp.start, market)
        assert not bid_allowed(now, isp.start - timedelta(minutes=15), market)


@dataclass(frozen=True)
class Bid:
    market: str
    isp_start: datetime
    name: str


def test_split_by_gate_keeps_order_and_separates_late_bids():
    now = utc(2025, 2, 27, 9, 40)
    bids = [
        Bid("afrr", utc(2025, 2, 27, 10, 0), "afrr-late"),  # gate 09:35
        Bid("afrr", utc(2025, 2, 27, 10, 15), "afrr-ok"),  # gate 09:50
        Bid("imbalance", utc(2025, 2, 27, 9, 45), "imbalance-late"),  # gate 09:40
        Bid("imbalance", utc(2025, 2, 27, 10, 0), "imbalance-ok"),  # gate 09:55
    ]
    split = split_by_gate(bids, now)
    assert [b.name for b in split.sendable] == ["afrr-ok", "imbalance-ok"]
    assert [b.name for b in split.too_late] == ["afrr-late", "imbalance-late"]
