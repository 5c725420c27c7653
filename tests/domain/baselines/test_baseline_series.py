"""The 1-minute pool series and Europe/Amsterdam wall-clock arithmetic (DST days included)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from domain.baselines.local_time import same_time_days_before, wall_clock_to_utc
from domain.baselines.series import MISSING_MINUTE, MinuteSeries, epoch_minutes
from domain.isp import MARKET_TZ


def minute(ts: str) -> int:
    return int(epoch_minutes(pd.DatetimeIndex([pd.Timestamp(ts)]))[0])


def test_series_is_put_on_a_complete_grid_with_missing_minutes_as_nan():
    index = pd.DatetimeIndex(
        ["2025-02-27 10:00+01:00", "2025-02-27 10:01+01:00", "2025-02-27 10:04+01:00"]
    )
    series = MinuteSeries.of(pd.Series([1.0, np.inf, 3.0], index=index))
    assert series.start == minute("2025-02-27 09:00Z")
    assert len(series.values) == 5
    np.testing.assert_array_equal(series.values, [1.0, np.nan, np.nan, np.nan, 3.0])
    assert series.to_pandas().index[0] == pd.Timestamp("2025-02-27 09:00Z")


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (pd.date_range("2025-02-27", periods=3, freq="1min"), "timezone-aware"),
        (pd.date_range("2025-02-27", periods=3, freq="30s", tz="UTC"), "whole minutes"),
        (
            pd.DatetimeIndex(["2025-02-27 10:01Z", "2025-02-27 10:00Z", "2025-02-27 10:02Z"]),
            "increasing",
        ),
        (
            pd.DatetimeIndex(["2025-02-27 10:00Z", "2025-02-27 10:00Z", "2025-02-27 10:02Z"]),
            "duplicates",
        ),
    ],
)
def test_series_refuses_a_bad_index(index, message):
    with pytest.raises(ValueError, match=message):
        MinuteSeries.of(pd.Series([1.0, 2.0, 3.0], index=index))


def test_windows_and_newest_known_minute_clip_to_the_series_and_skip_missing_values():
    series = MinuteSeries.from_values(100, np.array([1.0, np.nan, 3.0, np.nan, np.nan]))
    np.testing.assert_array_equal(
        series.at(np.array([99, 100, 101, 102, 105])), [np.nan, 1, np.nan, 3, np.nan]
    )
    total, count = series.window(np.array([90, 100, 103]), np.array([102, 200, 105]))
    np.testing.assert_array_equal(total, [1.0, 4.0, 0.0])
    np.testing.assert_array_equal(count, [1, 2, 0])
    np.testing.assert_array_equal(
        series.window_mean(np.array([100, 100]), np.array([103, 103]), min_known=2), [2.0, 2.0]
    )
    assert np.isnan(series.window_mean(np.array([100]), np.array([103]), min_known=3))[0]
    # newest known before 105 is minute 102 (value 3): 3 minutes old
    np.testing.assert_array_equal(
        series.newest_known(np.array([105, 105, 100]), 3), [3.0, 3.0, np.nan]
    )
    assert np.isnan(series.newest_known(np.array([105]), 2))[0]


def reference_same_time(utc: datetime, days_back: int) -> int:
    """Same wall-clock time days_back local days earlier, with zoneinfo (fold=0); -1 if absent."""
    wall = utc.astimezone(MARKET_TZ).replace(tzinfo=None) - timedelta(days=days_back)
    aware = wall.replace(tzinfo=MARKET_TZ, fold=0)
    if aware.astimezone(UTC).astimezone(MARKET_TZ).replace(tzinfo=None) != wall:
        return -1  # skipped by the spring-forward gap
    return int(aware.astimezone(UTC).timestamp() // 60)


def test_same_time_days_before_matches_zoneinfo_over_a_whole_year():
    times = pd.date_range("2025-01-01", "2026-01-03", freq="17min", tz="UTC")
    got = same_time_days_before(epoch_minutes(times), np.array([1, 2, 7]))
    for j, days_back in enumerate((1, 2, 7)):
        expected = np.array([reference_same_time(t.to_pydatetime(), days_back) for t in times])
        expected = np.where(expected == -1, MISSING_MINUTE, expected)
        np.testing.assert_array_equal(got[:, j], expected)
    assert (got == MISSING_MINUTE).sum() > 0  # the gap hour was met


def test_daylight_saving_days():
    # 2025-03-31 02:30 local: 2025-03-30 02:30 did not exist (23-hour day)
    spring = same_time_days_before(np.array([minute("2025-03-31 02:30+02:00")]), np.array([1, 2]))
    assert spring[0, 0] == MISSING_MINUTE
    assert spring[0, 1] == minute("2025-03-29 02:30+01:00")
    # both passes through 2025-10-26 02:30 (25-hour day) map to 2025-10-25 02:30
    first = minute("2025-10-26 02:30+02:00")
    second = minute("2025-10-26 02:30+01:00")
    assert second - first == 60
    back = same_time_days_before(np.array([first, second]), np.array([1]))
    assert back[0, 0] == back[1, 0] == minute("2025-10-25 02:30+02:00")
    # a day later, 02:30 on the 25-hour day is read at its first pass
    after = same_time_days_before(np.array([minute("2025-10-27 02:30+01:00")]), np.array([1]))
    assert after[0, 0] == first
    # local days last 23, 24 and 25 hours
    for day, hours in ((date(2025, 3, 30), 23), (date(2025, 2, 27), 24), (date(2025, 10, 26), 25)):
        number = (day - date(1970, 1, 1)).days
        midnights = wall_clock_to_utc(np.array([number, number + 1]), np.zeros(2, dtype=np.int64))
        assert midnights[1] - midnights[0] == hours * 60
        assert midnights[0] == minute(
            datetime(day.year, day.month, day.day, tzinfo=MARKET_TZ).isoformat()
        )
