from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.isp import (
    ISP_MINUTES,
    MARKET_TZ,
    Isp,
    floor_to_isp,
    isp_count,
    isp_of,
    isps_between,
    isps_of_day,
)

SPRING_FORWARD = date(2025, 3, 30)  # last Sunday of March: 23 hours
FALL_BACK = date(2025, 10, 26)  # last Sunday of October: 25 hours
ORDINARY_DAY = date(2025, 2, 27)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "count"), [(SPRING_FORWARD, 92), (FALL_BACK, 100), (ORDINARY_DAY, 96)]
)
def test_isps_per_local_day(day, count):
    assert isp_count(day) == count
    isps = isps_of_day(day)
    assert len(isps) == count
    assert [isp.number for isp in isps] == list(range(1, count + 1))
    assert {isp.local_date for isp in isps} == {day}


def test_fall_back_day_numbers_the_repeated_hour_after_the_first():
    starts = {isp.number: isp.start for isp in isps_of_day(FALL_BACK)}
    # local midnight is 2025-10-25 22:00 UTC (CEST, +02:00)
    assert starts[1] == utc(2025, 10, 25, 22, 0)
    assert starts[8] == utc(2025, 10, 25, 23, 45)  # 01:45+02
    assert starts[9] == utc(2025, 10, 26, 0, 0)  # 02:00+02, the first 02:00 hour
    assert starts[12] == utc(2025, 10, 26, 0, 45)  # 02:45+02
    assert starts[13] == utc(2025, 10, 26, 1, 0)  # 02:00+01, the repeated hour
    assert starts[16] == utc(2025, 10, 26, 1, 45)  # 02:45+01
    assert starts[17] == utc(2025, 10, 26, 2, 0)  # 03:00+01
    assert starts[100] == utc(2025, 10, 26, 22, 45)  # 23:45+01
    assert starts[9].astimezone(MARKET_TZ).utcoffset() == timedelta(hours=2)
    assert starts[13].astimezone(MARKET_TZ).utcoffset() == timedelta(hours=1)
    assert starts[9].astimezone(MARKET_TZ).hour == starts[13].astimezone(MARKET_TZ).hour == 2


def test_spring_forward_day_skips_the_missing_hour():
    starts = {isp.number: isp.start for isp in isps_of_day(SPRING_FORWARD)}
    assert starts[1] == utc(2025, 3, 29, 23, 0)  # 00:00+01
    assert starts[8] == utc(2025, 3, 30, 0, 45)  # 01:45+01
    assert starts[9] == utc(2025, 3, 30, 1, 0)  # 03:00+02: 02:00-03:00 does not exist
    assert starts[9].astimezone(MARKET_TZ).hour == 3
    assert starts[92] == utc(2025, 3, 30, 21, 45)  # 23:45+02


@pytest.mark.parametrize("day", [SPRING_FORWARD, FALL_BACK, ORDINARY_DAY])
def test_isps_of_a_day_are_contiguous_and_fifteen_minutes_long(day):
    isps = isps_of_day(day)
    assert all(isp.end - isp.start == timedelta(minutes=ISP_MINUTES) for isp in isps)
    assert all(a.end == b.start for a, b in pairwise(isps))
    assert all(isp.start.tzinfo is UTC and isp.end.tzinfo is UTC for isp in isps)


def test_the_whole_of_2025_has_no_gap_and_no_overlap():
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(365)]
    isps = [isp for day in days for isp in isps_of_day(day)]
    assert sum(isp_count(day) for day in days) == 365 * 96 - 4 + 4 == 35040
    assert len(isps) == 35040
    assert all(a.end == b.start for a, b in pairwise(isps))
    assert isps[0].start == utc(2024, 12, 31, 23, 0)
    assert isps[-1].end == utc(2025, 12, 31, 23, 0)


def test_isps_between_a_year_matches_the_days():
    isps = isps_between(utc(2024, 12, 31, 23, 0), utc(2025, 12, 31, 23, 0))
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(365)]
    assert isps == [isp for day in days for isp in isps_of_day(day)]


@pytest.mark.parametrize("day", [SPRING_FORWARD, FALL_BACK, ORDINARY_DAY])
def test_isp_of_finds_every_isp_of_a_day_again(day):
    for isp in isps_of_day(day):
        assert isp_of(isp.start) == isp
        assert isp_of(isp.end - timedelta(microseconds=1)) == isp
        assert isp_of(isp.start.astimezone(MARKET_TZ)) == isp


def test_isp_of_the_repeated_hour_tells_the_two_02_15s_apart():
    first = datetime(2025, 10, 26, 2, 20, tzinfo=MARKET_TZ, fold=0)  # CEST
    second = datetime(2025, 10, 26, 2, 20, tzinfo=MARKET_TZ, fold=1)  # CET
    assert isp_of(first).number == 10
    assert isp_of(second).number == 14
    assert isp_of(datetime(2025, 10, 26, 2, 20, tzinfo=timezone(timedelta(hours=1)))).number == 14


def test_isps_between_takes_every_isp_the_interval_touches():
    isps = isps_between(utc(2025, 2, 27, 11, 7), utc(2025, 2, 27, 11, 31))
    assert [isp.start for isp in isps] == [
        utc(2025, 2, 27, 11, 0),
        utc(2025, 2, 27, 11, 15),
        utc(2025, 2, 27, 11, 30),
    ]
    assert isps_between(utc(2025, 2, 27, 11, 0), utc(2025, 2, 27, 11, 30))[-1].start == utc(
        2025, 2, 27, 11, 15
    )


def test_an_empty_or_reversed_interval_has_no_isps():
    assert isps_between(utc(2025, 2, 27, 11, 7), utc(2025, 2, 27, 11, 7)) == []
    assert isps_between(utc(2025, 2, 27, 12, 0), utc(2025, 2, 27, 11, 0)) == []


def test_isps_between_crosses_the_fall_back_night():
    isps = isps_between(
        datetime(2025, 10, 26, 1, 45, tzinfo=MARKET_TZ),
        datetime(2025, 10, 26, 3, 15, tzinfo=MARKET_TZ),
    )
    assert [isp.number for isp in isps] == list(range(8, 18))  # 01:45 .. 03:00, 2.5 hours


def test_floor_to_isp_returns_utc_quarter_hours():
    ts = datetime(2025, 2, 27, 12, 44, 59, 999999, tzinfo=MARKET_TZ)
    assert floor_to_isp(ts) == utc(2025, 2, 27, 11, 30)
    assert floor_to_isp(ts).tzinfo is UTC
    assert floor_to_isp(utc(2025, 2, 27, 11, 45)) == utc(2025, 2, 27, 11, 45)


@pytest.mark.parametrize(
    "call",
    [
        lambda: isp_of(datetime(2025, 2, 27, 12, 0)),
        lambda: floor_to_isp(datetime(2025, 2, 27, 12, 0)),
        lambda: isps_between(datetime(2025, 2, 27, 12, 0), utc(2025, 2, 27, 13, 0)),
        lambda: isps_between(utc(2025, 2, 27, 12, 0), datetime(2025, 2, 27, 13, 0)),
    ],
)
def test_naive_timestamps_are_refused(call):
    with pytest.raises(ValueError, match="naive"):
        call()


def test_isp_is_frozen():
    isp = isps_of_day(ORDINARY_DAY)[0]
    assert isinstance(isp, Isp)
    with pytest.raises(AttributeError):
        isp.number = 2  # type: ignore[misc]


@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1),
        max_value=datetime(2030, 12, 31, 23, 59, 59),
        timezones=st.sampled_from([UTC, MARKET_TZ, timezone(timedelta(hours=-5, minutes=-30))]),
    )
)
def test_every_aware_timestamp_lies_in_its_isp(ts):
    isp = isp_of(ts)
    assert isp.start <= ts < isp.end
    assert isp.end - isp.start == timedelta(minutes=ISP_MINUTES)
    assert 1 <= isp.number <= isp_count(isp.local_date)
    assert isps_of_day(isp.local_date)[isp.number - 1] == isp
