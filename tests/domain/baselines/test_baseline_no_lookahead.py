"""No look-ahead, no look far back: a forecast depends on a bounded window before its cut-off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.baselines.forecast import METHOD_NAMES, forecast
from domain.baselines.methods import XOFY_Y

DAY = 1440


def changed_from(series: pd.Series, position: int, kind: str, seed: int) -> pd.Series:
    """The series with every value from ``position`` on replaced."""
    values = series.to_numpy().copy()
    rng = np.random.default_rng(seed)
    tail = len(values) - position
    if kind == "nan":
        values[position:] = np.nan
    elif kind == "constant":
        values[position:] = rng.uniform(-10, 10)
    elif kind == "noise":
        values[position:] = rng.normal(0, 1, tail)
    elif kind == "scaled":
        values[position:] *= rng.uniform(-3, 3)
    else:  # "dropped": the minutes are absent from the index
        return series.iloc[:position]
    return pd.Series(values, index=series.index)


@pytest.mark.parametrize("method", METHOD_NAMES)
@settings(max_examples=25, deadline=None)
@given(
    cut_position=st.integers(min_value=8 * DAY, max_value=14 * DAY - 1),  # methods have history
    steps=st.lists(st.integers(min_value=0, max_value=1600), min_size=1, max_size=6),
    kind=st.sampled_from(["nan", "constant", "noise", "scaled", "dropped"]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_a_forecast_uses_only_data_before_its_cut_off(
    pools, method, cut_position, steps, kind, seed
):
    series = pools["POOL-MFRR-1"]
    cut = series.index[[cut_position] * len(steps)]
    target = cut + pd.to_timedelta(steps, unit="min")
    before = forecast(method, series, cut, target)
    assume(np.isfinite(before).any())  # a NaN (too little history) would prove nothing
    after = forecast(method, changed_from(series, cut_position, kind, seed), cut, target)
    np.testing.assert_array_equal(after, before)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_the_property_can_fail_a_forecast_that_peeks(pools, method):
    """Sanity check of the test above: moving the cut-off one minute later does see the change."""
    series = pools["POOL-MFRR-1"]
    position = 12 * DAY + 600
    cut = series.index[[position + 1]]
    target = cut + pd.Timedelta(minutes=10)
    changed = changed_from(series, position, "constant", 1)
    assert forecast(method, changed, cut, target)[0] != forecast(method, series, cut, target)[0]


@pytest.mark.parametrize("method", ["persistence", "rolling_mean", "ewma", "x_of_y"])
def test_a_forecast_is_the_same_whatever_longer_history_is_given(pools, method):
    """Bit for bit: window sums are exact, so data before the method's window cannot matter.
    (The regression's fit has the same property over REGRESSION_HISTORY_DAYS, tested there.)"""
    series = pools["POOL-MFRR-1"]
    cut = series.index[12 * DAY :: 7]
    target = cut + pd.Timedelta(minutes=10)
    recent = series[series.index >= cut[0] - pd.Timedelta(days=XOFY_Y + 1)]
    assert len(recent) < len(series)
    full = forecast(method, series, cut, target)
    assert np.isfinite(full).all()
    np.testing.assert_array_equal(forecast(method, recent, cut, target), full)
