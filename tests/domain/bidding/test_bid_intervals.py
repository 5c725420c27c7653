from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from domain.bidding import day_interval, isp_interval, span_interval


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_isp_interval_in_utc_minutes():
    assert isp_interval(utc(2025, 2, 27, 10, 0)) == ("2025-02-27T10:00Z", "2025-02-27T10:15Z")
    cet = timezone(timedelta(hours=1))
    assert isp_interval(datetime(2025, 2, 27, 11, 0, tzinfo=cet)).start == "2025-02-27T10:00Z"
    assert isp_interval(utc(2025, 2, 27, 23, 45)).end == "2025-02-28T00:00Z"


def test_day_intervals_on_dst_days():
    assert day_interval(date(2025, 3, 30)) == ("2025-03-29T23:00Z", "2025-03-30T22:00Z")  # 23 h
    assert day_interval(date(2025, 10, 26)) == ("2025-10-25T22:00Z", "2025-10-26T23:00Z")  # 25 h
    assert day_interval(date(2025, 2, 27)) == ("2025-02-26T23:00Z", "2025-02-27T23:00Z")


def test_the_repeated_autumn_hour_has_distinct_intervals():
    first = isp_interval(utc(2025, 10, 26, 0, 0))  # 02:00+02
    second = isp_interval(utc(2025, 10, 26, 1, 0))  # 02:00+01
    assert first == ("2025-10-26T00:00Z", "2025-10-26T00:15Z")
    assert second == ("2025-10-26T01:00Z", "2025-10-26T01:15Z")


def test_span_covers_first_start_to_last_end():
    starts = [utc(2025, 2, 27, 10, 30), utc(2025, 2, 27, 10, 0)]
    assert span_interval(starts) == ("2025-02-27T10:00Z", "2025-02-27T10:45Z")
    with pytest.raises(ValueError):
        span_interval([])


def test_a_non_isp_start_is_refused():
    with pytest.raises(ValueError, match="start of an ISP"):
        isp_interval(utc(2025, 2, 27, 10, 5))
