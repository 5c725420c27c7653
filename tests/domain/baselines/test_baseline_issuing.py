"""Issuing baselines: rows, the activation freeze, masking, fallback, never revised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.baselines.backtest import chosen_methods
from domain.baselines.forecast import METHOD_NAMES
from domain.baselines.issuing import (
    BASELINE_COLUMNS,
    RECOVERY_MARGIN_MIN,
    activation_blocks,
    issue_baselines,
)
from domain.baselines.series import epoch_minutes, minutes_to_timestamps
from domain.isp import MARKET_TZ

HORIZONS = (1, 5, 10)


def local(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=MARKET_TZ).tz_convert("UTC")


def issue_range(first: str, last: str) -> pd.DatetimeIndex:
    return pd.date_range(local(first), local(last), freq="1min")


def test_activation_blocks_are_whole_minutes_with_the_recovery_margin_and_merged():
    blocks = activation_blocks(
        [
            (local("2025-02-25 12:00"), local("2025-02-25 12:15")),
            (local("2025-02-25 10:00:30"), local("2025-02-25 10:20:10")),
            (local("2025-02-25 10:30"), local("2025-02-25 10:40")),
        ]
    )
    starts = minutes_to_timestamps(blocks[:, 0]).tz_convert(MARKET_TZ)
    ends = minutes_to_timestamps(blocks[:, 1]).tz_convert(MARKET_TZ)
    assert [t.strftime("%H:%M") for t in starts] == ["10:00", "12:00"]
    # 10:20:10 -> 10:21, + margin 10:36 overlaps 10:30: merged up to 10:40 + margin
    assert [t.strftime("%H:%M") for t in ends] == ["10:55", "12:30"]
    assert RECOVERY_MARGIN_MIN == 15
    with pytest.raises(ValueError, match="timezone-aware"):
        activation_blocks([(pd.Timestamp("2025-02-25 10:00"), pd.Timestamp("2025-02-25 11:00"))])
    with pytest.raises(ValueError, match="end after it starts"):
        activation_blocks([(local("2025-02-25 10:00"), local("2025-02-25 10:00"))])


def ramp() -> pd.Series:
    """Value = minutes since the first minute: persistence then shows its cut-off."""
    index = pd.date_range(local("2025-02-17 00:00"), local("2025-02-26 00:00"), freq="1min")
    return pd.Series(np.arange(len(index), dtype=float), index=index)


def test_rows_and_the_cut_off_of_frozen_baselines():
    series = ramp()
    start, end = local("2025-02-25 17:00"), local("2025-02-25 17:30")
    issued = issue_range("2025-02-25 16:45", "2025-02-25 18:10")
    rows = issue_baselines(
        series, issued, HORIZONS, dict.fromkeys(HORIZONS, "persistence"), [(start, end)]
    )
    assert tuple(rows.columns) == BASELINE_COLUMNS
    assert len(rows) == len(issued) * len(HORIZONS)
    assert (
        rows["target_ts"] == rows["issued_at"] + pd.to_timedelta(rows["horizon_min"], "min")
    ).all()
    assert list(rows["horizon_min"][:3]) == [1, 5, 10]
    block_end = end + pd.Timedelta(minutes=RECOVERY_MARGIN_MIN)
    in_block = (rows["target_ts"] >= start) & (rows["target_ts"] < block_end)
    assert (rows["frozen"] == in_block).all()
    first = series.index[0]
    cut = (rows["baseline_mw"] + 1).to_numpy()  # persistence on the ramp: cut-off - first minute
    cut_ts = first + pd.to_timedelta(cut, "min")
    issued_at = rows["issued_at"]
    # frozen: the activation start, or the issue time if that is earlier
    expected = issued_at.where(~in_block | (issued_at < start), start)
    # issued inside the block for a target after it: back to the block's start
    inside = (issued_at > start) & (issued_at <= block_end) & ~in_block
    expected = expected.where(~inside, start)
    assert (cut_ts == expected).all()
    assert inside.any() and (in_block & (issued_at < start)).any()


def test_a_moved_cut_off_uses_the_method_of_the_longest_horizon():
    series = ramp()
    start, end = local("2025-02-25 17:00"), local("2025-02-25 17:30")
    issued = issue_range("2025-02-25 16:50", "2025-02-25 17:20")
    methods = {1: "persistence", 5: "persistence", 10: "x_of_y"}
    rows = issue_baselines(series, issued, HORIZONS, methods, [(start, end)])
    moved = rows["frozen"] & (rows["issued_at"] > start)
    assert (rows.loc[moved, "method"] == "x_of_y").all()
    assert set(rows.loc[~moved & (rows["horizon_min"] == 1), "method"]) == {"persistence"}
    rows = issue_baselines(
        series, issued, HORIZONS, methods, [(start, end)], frozen_method="rolling_mean"
    )
    assert (rows.loc[moved, "method"] == "rolling_mean").all()


def replaced_after(series: pd.Series, start: pd.Timestamp, kind: str, seed: int) -> pd.Series:
    changed = series.copy()
    after = changed.index >= start
    if kind == "nan":
        changed[after] = np.nan
    elif kind == "zero":
        changed[after] = 0.0
    else:
        changed[after] = np.random.default_rng(seed).normal(0, 1, after.sum())
    return changed


@pytest.mark.parametrize("method", METHOD_NAMES)
@settings(max_examples=6, deadline=None)
@given(
    start_minute=st.integers(min_value=0, max_value=2 * 1440 - 1),
    minutes=st.integers(min_value=1, max_value=120),
    kind=st.sampled_from(["nan", "zero", "noise"]),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_frozen_baselines_ignore_any_data_after_the_activation_start(
    pools, method, start_minute, minutes, kind, seed
):
    series = pools["POOL-IMBALANCE-3"]
    start = local("2025-02-25 00:00") + pd.Timedelta(minutes=start_minute)
    activation = [(start, start + pd.Timedelta(minutes=minutes))]
    issued = pd.date_range(
        start - pd.Timedelta(minutes=10), start + pd.Timedelta(minutes=minutes + 20), freq="1min"
    )
    methods = dict.fromkeys(HORIZONS, method)
    before = issue_baselines(series, issued, HORIZONS, methods, activation)
    after = issue_baselines(
        replaced_after(series, start, kind, seed), issued, HORIZONS, methods, activation
    )
    frozen = before["frozen"].to_numpy()
    assert frozen.sum() >= minutes
    assert before["baseline_mw"][frozen].notna().all()  # from pre-activation data, not masked
    np.testing.assert_array_equal(after["baseline_mw"][frozen], before["baseline_mw"][frozen])
    assert (after["method"][frozen] == before["method"][frozen]).all()


def test_without_the_freeze_the_same_change_would_show(pools):
    series = pools["POOL-IMBALANCE-3"]
    start = local("2025-02-25 17:00")
    issued = issue_range("2025-02-25 17:05", "2025-02-25 17:30")
    methods = dict.fromkeys(HORIZONS, "persistence")
    changed = replaced_after(series, start, "zero", 0)
    assert not np.array_equal(
        issue_baselines(series, issued, HORIZONS, methods)["baseline_mw"],
        issue_baselines(changed, issued, HORIZONS, methods)["baseline_mw"],
    )


def test_activation_minutes_are_masked_for_later_baselines():
    index = pd.date_range(local("2025-02-24 00:00"), local("2025-02-25 12:00"), freq="1min")
    series = pd.Series(1.0, index=index)
    start, end = local("2025-02-25 10:00"), local("2025-02-25 10:30")
    series[(index >= start) & (index < end + pd.Timedelta(minutes=RECOVERY_MARGIN_MIN))] = 0.0
    issued = pd.DatetimeIndex([local("2025-02-25 10:55")])
    # the last 15 minutes hold 5 margin minutes (0.0): masked, so only the 10 after count
    rows = issue_baselines(series, issued, (5,), {5: "rolling_mean"}, [(start, end)])
    assert rows["baseline_mw"].tolist() == [1.0]
    assert rows["method"].tolist() == ["rolling_mean"]
    unmasked = issue_baselines(series, issued, (5,), {5: "rolling_mean"})
    assert unmasked["baseline_mw"].tolist() == [pytest.approx(10 / 15)]


def test_the_fallback_fills_where_the_chosen_method_lacks_history():
    series = ramp()
    issued = issue_range("2025-02-18 12:00", "2025-02-18 12:09")  # day 2: no X-of-Y yet
    rows = issue_baselines(series, issued, (10,), {10: "x_of_y"})
    assert set(rows["method"]) == {"persistence"}
    assert rows["baseline_mw"].notna().all()
    bare = issue_baselines(series, issued, (10,), {10: "x_of_y"}, fallback=None)
    assert set(bare["method"]) == {"x_of_y"}
    assert bare["baseline_mw"].isna().all()


def test_issue_baselines_refuses_unknown_methods_and_horizons():
    series = ramp()
    issued = issue_range("2025-02-25 12:00", "2025-02-25 12:01")
    with pytest.raises(ValueError, match="no method given"):
        issue_baselines(series, issued, (1, 5), {1: "persistence"})
    with pytest.raises(ValueError, match="unknown baseline method"):
        issue_baselines(series, issued, (1,), {1: "crystal_ball"})
    with pytest.raises(ValueError, match="whole minutes >= 1"):
        issue_baselines(series, issued, (0,), {0: "persistence"})


def test_issuing_again_minute_by_minute_gives_the_same_numbers(pools, accuracy):
    """Baselines are never revised: the day in one call = in 4-hour chunks, each issued with
    only the data that existed at its last issue time."""
    pool_id = "POOL-MFRR-1"
    series = pools[pool_id]
    methods = chosen_methods(accuracy[accuracy["pool_id"] == pool_id])
    assert "regression" in methods.values()
    activations = [(local("2025-02-26 09:10"), local("2025-02-26 09:55"))]
    day = issue_range("2025-02-26 00:00", "2025-02-26 23:59")
    whole = issue_baselines(series, day, HORIZONS, methods, activations)
    chunks = []
    for first in range(0, len(day), 240):
        issued = day[first : first + 240]
        known = series[series.index < issued[-1]]  # real time: data before the last issue
        chunks.append(issue_baselines(known, issued, HORIZONS, methods, activations))
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    assert whole["frozen"].sum() == (45 + RECOVERY_MARGIN_MIN) * len(HORIZONS)
    assert epoch_minutes(whole["issued_at"]).min() == epoch_minutes(day[:1])[0]
