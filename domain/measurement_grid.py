"""Device readings on a regular time grid, each reading held until the next (at most 15 min).

The same rule as the dbt marts (``int_device_readings_held``): a reading at ``ts`` stands for
the device's power until its next reading, for at most ``MAX_HOLD``. On a grid of ``step``,
a step with readings gets their mean; a step without gets the last value held into it, if
that is not older than ``MAX_HOLD``; otherwise it stays empty (NaN).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

MAX_HOLD = timedelta(minutes=15)


def held_grid(
    readings: pd.DataFrame,
    start: datetime,
    end: datetime,
    step: timedelta,
    max_hold: timedelta = MAX_HOLD,
) -> pd.DataFrame:
    """Power per grid step (rows, UTC) and device (columns) from readings (device_id, ts, power).

    ``readings`` may start before ``start`` (the last earlier reading is held into the
    window); readings at or after ``end`` are ignored. Values keep the readings' unit.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("grid bounds must be timezone-aware")
    grid = pd.date_range(start, end, freq=step, inclusive="left", tz="UTC")
    devices = sorted(readings["device_id"].unique()) if len(readings) else []
    if not devices:
        return pd.DataFrame(index=grid, dtype=float)
    frame = readings.loc[readings["ts"] < end, ["device_id", "ts", "power"]].copy()
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    # every reading is placed in the grid step that holds it (earlier ones before the first)
    origin = pd.Timestamp(start).tz_convert("UTC")
    frame["step"] = np.floor((frame["ts"] - origin) / step).astype(np.int64)
    last_before = frame[frame["step"] < 0].sort_values("ts").groupby("device_id").tail(1)
    inside = frame[frame["step"] >= 0]
    means = inside.groupby(["step", "device_id"])["power"].mean().unstack("device_id")
    means = means.reindex(index=range(len(grid)), columns=devices)
    newest = (
        inside.assign(ns=inside["ts"].dt.as_unit("ns").astype("int64"))
        .groupby(["step", "device_id"])["ns"]
        .max()
        .unstack("device_id")
        .reindex(index=range(len(grid)), columns=devices)
    )
    if len(last_before):
        seed = last_before.set_index("device_id").reindex(devices)
        means = pd.concat(
            [pd.DataFrame([seed["power"].to_numpy()], columns=devices, index=[-1]), means]
        )
        seed_ns = seed["ts"].dt.as_unit("ns").to_numpy("datetime64[ns]").astype("int64")
        seed_ns = np.where(seed["ts"].isna().to_numpy(), np.nan, seed_ns.astype(float))
        newest = pd.concat([pd.DataFrame([seed_ns], columns=devices, index=[-1]), newest])
    # hold: the last value forward, while the reading it came from is younger than max_hold
    held = means.ffill().loc[0:].to_numpy(dtype=float)
    source_ns = newest.ffill().loc[0:].to_numpy(dtype=float)
    step_ns = grid.as_unit("ns").asi8.astype(float)[:, None]
    fresh = (step_ns - source_ns) < pd.Timedelta(max_hold).value
    values = np.where(fresh | ~np.isnan(means.loc[0:].to_numpy(dtype=float)), held, np.nan)
    return pd.DataFrame(values, index=grid, columns=devices)
