"""Each baseline method on known series: constant, ramp, daily sine, step, missing minutes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from domain.baselines.forecast import METHOD_NAMES, forecast
from domain.baselines.methods import (
    EWMA_ALPHA,
    EWMA_WINDOW_MIN,
    MAX_AGE_MIN,
    ROLLING_WINDOW_MIN,
    XOFY_LEVEL_MIN,
    XOFY_X,
    XOFY_Y,
    ewma,
    persistence,
    rolling_mean,
    same_time_x_of_y,
    x_of_y_parts,
)
from domain.baselines.series import MinuteSeries, epoch_minutes
from domain.isp import MARKET_TZ

START = pd.Timestamp("2025-02-10 00:00", tz=MARKET_TZ)  # a Monday, local midnight
DAYS = 10
HORIZONS = (1, 5, 10, 60)


def grid(days: int = DAYS, start: pd.Timestamp = START) -> pd.DatetimeIndex:
    end = start + pd.Timedelta(days=days)
    return pd.date_range(start, end, freq="1min", inclusive="left").tz_convert("UTC")


def series_of(values: np.ndarray, start: pd.Timestamp = START) -> pd.Series:
    index = pd.date_range(start.tz_convert("UTC"), periods=len(values), freq="1min")
    return pd.Series(np.asarray(values, dtype=float), index=index)


def local_minute_of_day(index: pd.DatetimeIndex) -> np.ndarray:
    local = index.tz_convert(MARKET_TZ)
    return np.asarray(local.hour * 60 + local.minute)


def pairs(series: pd.Series, issued: list[str], horizon: int):
    cut = pd.DatetimeIndex([pd.Timestamp(t, tz=MARKET_TZ) for t in issued]).tz_convert("UTC")
    return cut, cut + pd.Timedelta(minutes=horizon)


ISSUED = ["2025-02-19 09:03", "2025-02-19 13:37", "2025-02-19 20:00"]


@pytest.mark.parametrize("method", METHOD_NAMES)
@pytest.mark.parametrize("horizon", HORIZONS)
def test_every_method_forecasts_a_constant_series_exactly(method, horizon):
    series = series_of(np.full(DAYS * 1440, 0.75))
    cut, target = pairs(series, ISSUED, horizon)
    np.testing.assert_allclose(forecast(method, series, cut, target), 0.75, rtol=1e-12)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_a_method_does_not_invent_values_without_history(method):
    series = series_of(np.full(3 * 1440, 0.75))
    before_start = series.index[:1] - pd.Timedelta(minutes=5)
    assert np.isnan(forecast(method, series, before_start, before_start + pd.Timedelta("1min")))
    # nothing in the last hour: persistence and the smoothers give up (stale meter)
    gappy = series.copy()
    gappy.iloc[-60:] = np.nan
    end = gappy.index[-1:] + pd.Timedelta(minutes=1)
    assert np.isnan(forecast(method, gappy, end, end + pd.Timedelta(minutes=10)))


def test_persistence_is_the_newest_known_minute():
    values = np.arange(DAYS * 1440, dtype=float)  # a ramp: value = minute number
    series = series_of(values)
    cut, target = pairs(series, ISSUED, 10)
    expected = epoch_minutes(cut) - 1 - epoch_minutes(series.index[:1])[0]
    np.testing.assert_array_equal(persistence(series, cut, target), expected)
    # a missing newest minute: the one before (within MAX_AGE_MIN); older: NaN
    gappy = series.copy()
    gappy[(gappy.index >= cut[0] - pd.Timedelta(minutes=3)) & (gappy.index < cut[0])] = np.nan
    assert persistence(gappy, cut[:1], target[:1])[0] == expected[0] - 3
    gappy[(gappy.index >= cut[0] - pd.Timedelta(minutes=MAX_AGE_MIN))] = np.nan
    assert np.isnan(persistence(gappy, cut[:1], target[:1])[0])


def test_persistence_on_a_step_follows_it_once_the_step_is_known():
    step_at = pd.Timestamp("2025-02-19 12:00", tz=MARKET_TZ).tz_convert("UTC")
    index = grid()
    series = pd.Series(np.where(index < step_at, 1.0, 3.0), index=index)
    cut = pd.DatetimeIndex([step_at, step_at + pd.Timedelta("1min")])
    np.testing.assert_array_equal(persistence(series, cut, cut + pd.Timedelta("5min")), [1, 3])


def test_rolling_mean_on_a_ramp_a_step_and_missing_minutes():
    series = series_of(np.arange(DAYS * 1440, dtype=float))
    cut, target = pairs(series, ISSUED, 5)
    last = epoch_minutes(cut) - 1 - epoch_minutes(series.index[:1])[0]
    # the mean of the last 15 minutes of a ramp lags the newest one by 7 minutes
    np.testing.assert_array_equal(rolling_mean(series, cut, target), last - 7)
    # step 1 -> 3, five minutes before the cut-off: (10 x 1 + 5 x 3) / 15
    step = pd.Series(np.where(np.arange(len(series)) < last[0] - 4, 1.0, 3.0), series.index)
    assert rolling_mean(step, cut[:1], target[:1])[0] == pytest.approx(25 / 15)
    # only the known minutes count, and at least half of the window must be known
    gappy = series.copy()
    window = (gappy.index >= cut[0] - pd.Timedelta(minutes=ROLLING_WINDOW_MIN)) & (
        gappy.index < cut[0]
    )
    gappy[window & (gappy.index < cut[0] - pd.Timedelta(minutes=8))] = np.nan  # 8 of 15 left
    known = series[window & ~gappy.isna()]
    assert len(known) == 8
    assert rolling_mean(gappy, cut[:1], target[:1])[0] == pytest.approx(known.mean())
    gappy[window & (gappy.index < cut[0] - pd.Timedelta(minutes=7))] = np.nan  # 7 of 15
    assert np.isnan(rolling_mean(gappy, cut[:1], target[:1])[0])


def reference_ewma(values: np.ndarray) -> float:
    """EWMA of the last EWMA_WINDOW_MIN values (newest last): weights (1 - alpha)^k over the
    known ones, newest first."""
    window = values[-EWMA_WINDOW_MIN:]
    known = window[~np.isnan(window)][::-1]
    weights = (1 - EWMA_ALPHA) ** np.arange(len(known))
    return float((weights * known).sum() / weights.sum())


def test_ewma_matches_its_definition_on_a_ramp_a_step_and_missing_minutes():
    values = np.arange(2 * 1440, dtype=float)
    values[100:400] = 5.0  # a step down and back up
    values[1000:1003] = np.nan
    series = series_of(values)
    for position in (50, 450, 1003, 2000):
        cut = series.index[position : position + 1]
        got = ewma(series, cut, cut + pd.Timedelta("10min"))[0]
        assert got == pytest.approx(reference_ewma(values[:position]), rel=1e-12)
    # on a long ramp the EWMA lags by (1 - alpha) / alpha minutes behind the newest value
    cut = series.index[2000:2001]
    assert ewma(series, cut, cut)[0] == pytest.approx(1999 - (1 - EWMA_ALPHA) / EWMA_ALPHA)


def local_sine(index: pd.DatetimeIndex) -> np.ndarray:
    """A daily sine on local wall-clock time (so daylight saving does not shift it)."""
    return 0.5 + 0.3 * np.sin(2 * np.pi * local_minute_of_day(index) / 1440)


@pytest.mark.parametrize("horizon", [1, 5, 10, 60, 300])
def test_x_of_y_forecasts_a_daily_shape_exactly_and_follows_the_day_level(horizon):
    index = grid()
    sine = pd.Series(local_sine(index), index=index)
    cut, target = pairs(sine, ISSUED, horizon)
    np.testing.assert_allclose(same_time_x_of_y(sine, cut, target), local_sine(target), atol=1e-12)
    # every day at its own level: the additive adjustment carries today's level (for targets
    # on the same day; past midnight the forecast adds the earlier days' midnight jumps)
    cut, target = pairs(sine, ISSUED[:2], horizon)
    day_level = (np.asarray((index - index[0]).days) % 4) * 0.1
    shifted = pd.Series(local_sine(index) + day_level, index=index)
    today = day_level[index.get_indexer(cut)]
    expected = local_sine(target) + today
    np.testing.assert_allclose(same_time_x_of_y(shifted, cut, target), expected, atol=1e-12)


def test_x_of_y_on_a_ramp_is_exact_and_on_a_step_adjusts_with_its_level_window():
    series = series_of(np.arange(DAYS * 1440, dtype=float))
    cut, target = pairs(series, ISSUED, 10)
    expected = epoch_minutes(target) - epoch_minutes(series.index[:1])[0]
    np.testing.assert_allclose(same_time_x_of_y(series, cut, target), expected, rtol=1e-12)
    # a step from 1 to 3: the forecast moves by the share of the level window after the step
    step_at = cut[0] - pd.Timedelta(minutes=10)
    index = grid()
    step = pd.Series(np.where(index < step_at, 1.0, 3.0), index=index)
    got = same_time_x_of_y(step, cut[:1], target[:1])[0]
    assert got == pytest.approx(1 + 2 * 10 / XOFY_LEVEL_MIN)


def test_x_of_y_chooses_the_days_whose_level_is_most_similar():
    index = grid()
    day = np.asarray((index - index[0]).days)
    minute_of_day = local_minute_of_day(index)
    levels = np.array([0.0, 5.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 2.5])  # day 9 is "today"
    # after 12:00 each day rises by its own day number: the profile shows which days were used
    values = levels[day] + np.where(minute_of_day >= 12 * 60, day, 0)
    series = pd.Series(values.astype(float), index=index)
    cut = pd.DatetimeIndex([pd.Timestamp("2025-02-19 11:50", tz=MARKET_TZ)]).tz_convert("UTC")
    target = cut + pd.Timedelta(minutes=20)
    # today's level 2.5; the 7 days before are days 2..8 with levels 1, 9, 2, 8, 3, 7, 4;
    # the 5 closest: 2 and 3 (0.5), 1 (1.5), 4 (1.5, more recent than 1's day), then 7 or 8
    # (4.5 vs 5.5): days 4, 6, 2, 8, 7
    chosen = [4, 6, 2, 8, 7]
    got = same_time_x_of_y(series, cut, target, x=5, y=7)[0]
    assert got == pytest.approx(2.5 + np.mean(chosen))


def test_x_of_y_needs_x_days_and_skips_missing_ones():
    index = grid()
    sine = pd.Series(local_sine(index), index=index)
    early = pd.DatetimeIndex([index[0] + pd.Timedelta(days=XOFY_X - 1, hours=12)])
    assert np.isnan(same_time_x_of_y(sine, early, early + pd.Timedelta("10min"))[0])
    enough = early + pd.Timedelta(days=1)
    assert same_time_x_of_y(sine, enough, enough + pd.Timedelta("10min"))[0] == pytest.approx(
        local_sine(enough + pd.Timedelta("10min"))[0]
    )
    # a lost day is skipped; losing more than Y - X of the Y days leaves no forecast
    cut, target = pairs(sine, ISSUED[:1], 10)
    gappy = sine.copy()
    lost = (gappy.index >= cut[0] - pd.Timedelta(days=2)) & (
        gappy.index < cut[0] - pd.Timedelta(days=1)
    )
    gappy[lost] = np.nan
    assert same_time_x_of_y(gappy, cut, target)[0] == pytest.approx(local_sine(target)[0])
    for back in range(2, XOFY_Y - XOFY_X + 3):
        lost = (gappy.index >= cut[0] - pd.Timedelta(days=back)) & (
            gappy.index < cut[0] - pd.Timedelta(days=back - 1)
        )
        gappy[lost] = np.nan
    assert np.isnan(same_time_x_of_y(gappy, cut, target)[0])


def clock_series(first: str, days: int) -> pd.Series:
    """Value = the local wall-clock minute of the day, over local days from ``first``."""
    index = grid(days, pd.Timestamp(first, tz=MARKET_TZ))
    return pd.Series(local_minute_of_day(index).astype(float), index=index)


@pytest.mark.parametrize(("day", "hours"), [("2025-03-30", 23), ("2025-10-26", 25)])
def test_x_of_y_reads_the_same_wall_clock_time_on_daylight_saving_days(day, hours):
    clock = clock_series(pd.Timestamp(day) - pd.Timedelta(days=8), 10)
    following = pd.Timestamp(day) + pd.Timedelta(days=1)  # naive: a calendar day later
    local_day = pd.date_range(
        pd.Timestamp(day, tz=MARKET_TZ),
        following.tz_localize(MARKET_TZ),
        freq="1min",
        inclusive="left",
    )
    assert len(local_day) == hours * 60
    target = local_day.tz_convert("UTC")
    cut = target - pd.Timedelta(minutes=10)
    parts = x_of_y_parts(MinuteSeries.of(clock), epoch_minutes(cut), epoch_minutes(target))
    # the profile is the same wall-clock minute on earlier days, on every minute of the day
    np.testing.assert_array_equal(parts.profile, local_minute_of_day(target))
    # away from midnight and the switch hour the level adjustment is zero: exact forecasts
    hour = local_day.hour
    calm = (hour >= 5) & (hour < 23)
    got = same_time_x_of_y(clock, cut[calm], target[calm])
    np.testing.assert_allclose(got, local_minute_of_day(target[calm]), atol=1e-9)


def test_x_of_y_the_day_after_spring_forward_skips_the_missing_hour():
    clock = clock_series("2025-03-23", 9)  # through 2025-03-31
    target = pd.DatetimeIndex([pd.Timestamp("2025-03-31 02:30", tz=MARKET_TZ)]).tz_convert("UTC")
    cut = target - pd.Timedelta(minutes=10)
    parts = x_of_y_parts(MinuteSeries.of(clock), epoch_minutes(cut), epoch_minutes(target))
    assert parts.profile[0] == 150  # 02:30 from the days that had it


def test_forecast_refuses_bad_input():
    series = series_of(np.ones(100))
    cut = series.index[50:52]
    with pytest.raises(ValueError, match="unknown baseline method"):
        forecast("magic", series, cut, cut)
    with pytest.raises(ValueError, match="at or after its cut-off"):
        forecast("persistence", series, cut, cut - pd.Timedelta("1min"))
    with pytest.raises(ValueError, match="one per target"):
        forecast("persistence", series, cut, cut[:1])
    with pytest.raises(ValueError, match="no fitted parameters"):
        forecast("ewma", series, cut, cut, fitted=object())
