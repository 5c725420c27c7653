"""Readings on a grid with holds: the rule the TSO's per-device documents are built with."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from domain.measurement_grid import held_grid

START = datetime(2025, 2, 27, 10, 0, tzinfo=UTC)


def _readings(*rows: tuple[str, datetime, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["device_id", "ts", "power"])


def test_steps_with_readings_get_their_mean_and_empty_steps_hold_the_last_value() -> None:
    readings = _readings(
        ("A", START, 1.0),
        ("A", START + timedelta(seconds=30), 3.0),
        ("B", START + timedelta(minutes=2), 5.0),
    )
    grid = held_grid(readings, START, START + timedelta(minutes=4), timedelta(minutes=1))
    assert list(grid.columns) == ["A", "B"]
    assert grid["A"].tolist() == [2.0, 2.0, 2.0, 2.0]
    assert np.isnan(grid["B"].iloc[:2]).all()
    assert grid["B"].iloc[2:].tolist() == [5.0, 5.0]


def test_a_hold_ends_after_fifteen_minutes_and_earlier_readings_seed_the_window() -> None:
    readings = _readings(
        ("A", START - timedelta(minutes=10), 7.0),
        ("A", START - timedelta(minutes=20), 1.0),
        ("B", START + timedelta(minutes=1), 4.0),
    )
    grid = held_grid(readings, START, START + timedelta(minutes=8), timedelta(minutes=1))
    assert np.isnan(grid["B"].iloc[0])
    assert grid["B"].iloc[1:].tolist() == [4.0] * 7
    # the reading of 09:50 holds until 10:05 (exclusive): steps 10:00 .. 10:04
    assert grid["A"].iloc[:5].tolist() == [7.0] * 5
    assert grid["A"].iloc[5:].isna().all()


def test_four_second_grid_and_readings_after_the_end_are_ignored() -> None:
    readings = _readings(
        ("A", START + timedelta(seconds=4), 2.0), ("A", START + timedelta(seconds=8), 9.0)
    )
    grid = held_grid(readings, START, START + timedelta(seconds=8), timedelta(seconds=4))
    assert len(grid) == 2
    assert np.isnan(grid["A"].iloc[0])
    assert grid["A"].iloc[1] == 2.0


def test_naive_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        held_grid(_readings(), START.replace(tzinfo=None), START, timedelta(minutes=1))
