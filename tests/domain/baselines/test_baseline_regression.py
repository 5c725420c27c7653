"""The regression baseline: exact where its features describe the series, any step, no peeking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from domain.baselines.regression import (
    FEATURES,
    REGRESSION_HISTORY_DAYS,
    REGRESSION_MIN_ROWS,
    REGRESSION_STEPS,
    fit_regression,
    regression,
    step_models,
    steps_needed,
)
from domain.baselines.series import epoch_minutes
from domain.isp import MARKET_TZ

START = pd.Timestamp("2025-02-03 00:00", tz=MARKET_TZ)
DAYS = 16


def index() -> pd.DatetimeIndex:
    end = START + pd.Timedelta(days=DAYS)
    return pd.date_range(START, end, freq="1min", inclusive="left").tz_convert("UTC")


def local_sine(times: pd.DatetimeIndex) -> np.ndarray:
    local = times.tz_convert(MARKET_TZ)
    return 0.4 + 0.2 * np.sin(2 * np.pi * np.asarray(local.hour * 60 + local.minute) / 1440)


def issued_on_last_day(steps: list[int]) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    day = pd.date_range(START + pd.Timedelta(days=DAYS - 1), periods=24, freq="1h")
    cut = day.tz_convert("UTC").repeat(len(steps))
    return cut, cut + pd.to_timedelta(np.tile(steps, 24), unit="min")


def test_regression_forecasts_a_daily_shape_exactly_at_its_steps_and_closely_between():
    times = index()
    series = pd.Series(local_sine(times), index=times)
    cut, target = issued_on_last_day([0, 1, 5, 10, 240, 1440, 2000])
    np.testing.assert_allclose(regression(series, cut, target), local_sine(target), atol=1e-9)
    # between two models, coefficients are interpolated: measured error <= 0.007 (step 500,
    # between 480 and 1440) on this shape of amplitude 0.2
    cut, target = issued_on_last_day([3, 7, 20, 45, 100, 500])
    np.testing.assert_allclose(regression(series, cut, target), local_sine(target), atol=0.01)


def test_regression_on_a_ramp_is_exact_at_its_steps_and_beyond_the_largest():
    times = index()
    series = pd.Series(np.arange(len(times), dtype=float), index=times)
    cut, target = issued_on_last_day([0, 1, 2, 5, 10, 240, 1440, 3000])
    expected = epoch_minutes(target) - epoch_minutes(times[:1])[0]
    np.testing.assert_allclose(regression(series, cut, target), expected, rtol=1e-9)


def test_steps_between_models_interpolate_linearly():
    lower, upper, weight = step_models(np.array([0, 5, 7, 20, 240, 999, 5000]))
    steps = np.asarray(REGRESSION_STEPS)
    assert list(steps[lower]) == [0, 5, 5, 15, 240, 480, 1440]
    assert list(steps[upper]) == [0, 5, 10, 30, 240, 1440, 1440]
    np.testing.assert_allclose(weight, [0, 0, 0.4, 1 / 3, 0, 519 / 960, 0])
    assert steps_needed(np.array([0, 0, 0]), np.array([7, 10, 5000])) == (5, 10)


def test_a_given_fit_gives_the_same_forecasts_as_the_fit_per_local_day():
    rng = np.random.default_rng(7)
    times = index()
    series = pd.Series(local_sine(times) + 0.05 * rng.standard_normal(len(times)), index=times)
    cut, target = issued_on_last_day([1, 5, 10, 30])
    midnight = (START + pd.Timedelta(days=DAYS - 1)).tz_convert("UTC")
    fit = fit_regression(series, midnight)
    assert fit.coefficients.shape == (len(REGRESSION_STEPS), len(FEATURES))
    assert min(fit.training_rows) >= REGRESSION_MIN_ROWS
    np.testing.assert_array_equal(
        regression(series, cut, target, fitted=fit), regression(series, cut, target)
    )
    # fitting only some steps gives those steps the same coefficients
    some = fit_regression(series, midnight, steps=(5, 10))
    for step in (5, 10):
        i = REGRESSION_STEPS.index(step)
        np.testing.assert_array_equal(some.coefficients[i], fit.coefficients[i])
    assert np.isnan(some.coefficients[REGRESSION_STEPS.index(30)]).all()


def test_a_fit_that_saw_data_after_a_cut_off_is_refused():
    times = index()
    series = pd.Series(local_sine(times), index=times)
    cut, target = issued_on_last_day([5])
    fit = fit_regression(series, cut[1])
    with pytest.raises(ValueError, match="after the earliest cut-off"):
        regression(series, cut, target, fitted=fit)
    with pytest.raises(ValueError, match="have no model"):
        fit_regression(series, cut[0], steps=(3,))


def test_regression_without_enough_training_history_gives_nan():
    times = index()[: 6 * 1440]  # X-of-Y features exist from day 6: no complete training day
    series = pd.Series(local_sine(times), index=times)
    cut = times[-60:-59]
    assert np.isnan(regression(series, cut, cut + pd.Timedelta("10min"))).all()


def test_a_fit_reads_only_its_history_days_before_until():
    rng = np.random.default_rng(3)
    times = pd.date_range(START, START + pd.Timedelta(days=20), freq="1min").tz_convert("UTC")
    series = pd.Series(local_sine(times) + 0.05 * rng.standard_normal(len(times)), index=times)
    until = (START + pd.Timedelta(days=19)).tz_convert("UTC")
    enough = series[series.index >= until - pd.Timedelta(days=REGRESSION_HISTORY_DAYS)]
    assert len(enough) < len(series)
    full, short = fit_regression(series, until), fit_regression(enough, until)
    np.testing.assert_array_equal(short.coefficients, full.coefficients)
    # two days less: the earliest training rows lose their X-of-Y days, so the fit differs
    shorter = series[series.index >= until - pd.Timedelta(days=REGRESSION_HISTORY_DAYS - 2)]
    assert not np.array_equal(fit_regression(shorter, until).coefficients, full.coefficients)
