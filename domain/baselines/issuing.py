"""Issuing baselines every minute, frozen at the start of an activation.

During an activation the baseline is the counterfactual: what the pool would have done
without it. So no baseline ever uses a measured minute from inside an activation:

- **Activation blocks.** Each activation [start, end) is widened to whole minutes (start
  rounded down, end rounded up) and extended by ``RECOVERY_MARGIN_MIN`` after its end:
  controllers catch up after an activation (heat pumps reheat, chargers resume), so those
  minutes are not counterfactual either. Overlapping or touching blocks are merged.
- **Freeze.** No cut-off lies inside a block: a baseline issued during a block has cut-off =
  the block's start, whatever its issued_at; one issued before keeps cut-off = issued_at (a
  baseline never uses data after its issue time). ``frozen`` marks the rows whose target lies
  in a block: measured - baseline over the block then shows the delivered flexibility, not
  the forecaster chasing it. A baseline issued during a block for a target after it gets the
  block's start as well (``frozen`` is False: its target is not activated).
- **Method of a moved cut-off.** A baseline whose cut-off was moved back forecasts further
  ahead than its horizon says (up to the activation's length), so it uses ``frozen_method``:
  by default the method chosen for the longest horizon (the short-horizon pick is often
  persistence, which is the weakest counterfactual over half an hour).
- **Masking.** Minutes inside blocks are treated as missing by every method (so a later
  rolling mean or X-of-Y day does not average the activation in).

A row is a pure function of the data before its cut-off and of the activations, so issuing
again, in one call or minute by minute, gives the same numbers: baselines are never revised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from domain.baselines.forecast import METHODS, forecast
from domain.baselines.methods import SeriesLike, Times
from domain.baselines.series import MinuteSeries, epoch_minutes, minutes_to_timestamps

#: Minutes after an activation's end that still count as activated (one ISP).
RECOVERY_MARGIN_MIN = 15
#: The method used where the chosen one has no value (e.g. X-of-Y in the first days).
FALLBACK_METHOD = "persistence"

BASELINE_COLUMNS = (
    "issued_at",
    "target_ts",
    "horizon_min",
    "method",
    "baseline_mw",
    "frozen",
    "cutoff_ts",
)

Activation = tuple[datetime | pd.Timestamp, datetime | pd.Timestamp]


def activation_blocks(
    activations: Iterable[Activation], recovery_margin_min: int = RECOVERY_MARGIN_MIN
) -> np.ndarray:
    """Merged blocks ``[start, end)`` in epoch minutes, shape (k, 2), sorted by start."""
    pairs = list(activations)
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    starts = pd.DatetimeIndex([start for start, _ in pairs])
    ends = pd.DatetimeIndex([end for _, end in pairs])
    if starts.tz is None or ends.tz is None:
        raise ValueError("activation times must be timezone-aware")
    if (ends <= starts).any():
        raise ValueError("every activation must end after it starts")
    block_start = epoch_minutes(starts.tz_convert("UTC").floor("min"))
    block_end = epoch_minutes(ends.tz_convert("UTC").ceil("min")) + recovery_margin_min
    order = np.argsort(block_start, kind="stable")
    merged: list[list[int]] = []
    for start, end in zip(block_start[order], block_end[order], strict=True):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], int(end))
        else:
            merged.append([int(start), int(end)])
    return np.array(merged, dtype=np.int64)


def block_start_containing(minutes: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Start of the block containing each epoch minute; -1 where none does."""
    minutes = np.asarray(minutes, dtype=np.int64)
    out = np.full(minutes.shape, -1, dtype=np.int64)
    if len(blocks) == 0:
        return out
    i = np.searchsorted(blocks[:, 0], minutes, side="right") - 1
    inside = (i >= 0) & (minutes < blocks[np.maximum(i, 0), 1])
    out[inside] = blocks[i[inside], 0]
    return out


def mask_blocks(series: SeriesLike, blocks: np.ndarray) -> MinuteSeries:
    """The series with every minute inside a block set to missing."""
    minute_series = MinuteSeries.of(series)
    if len(blocks) == 0:
        return minute_series
    inside = block_start_containing(np.arange(minute_series.start, minute_series.end), blocks)
    values = np.where(inside >= 0, np.nan, minute_series.values)
    return MinuteSeries.from_values(minute_series.start, values)


def effective_cutoffs(
    issued: np.ndarray, target: np.ndarray, blocks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cut-off of each (issued_at, target) pair and whether its target is in a block.

    Issued inside a block (its newest minute, issued_at - 1 min, is in the block): the block's
    start; otherwise issued_at.
    """
    issue_block = block_start_containing(issued - 1, blocks)
    cut = np.where(issue_block >= 0, issue_block, issued)
    return cut, block_start_containing(target, blocks) >= 0


def issue_baselines(
    series: SeriesLike,
    issue_times: Times,
    horizons: Sequence[int],
    method_by_horizon: Mapping[int, str],
    activations: Iterable[Activation] = (),
    *,
    recovery_margin_min: int = RECOVERY_MARGIN_MIN,
    fallback: str | None = FALLBACK_METHOD,
    frozen_method: str | None = None,
) -> pd.DataFrame:
    """One baseline per issue time and horizon, frozen during activations.

    ``activations`` are tz-aware (start, end) pairs. ``series`` holds what was measured; it may
    end before the targets (issuing in real time). Columns ``BASELINE_COLUMNS``: issued_at,
    target_ts (= issued_at + horizon), horizon_min, method (the one that gave the value: the
    horizon's method, or ``fallback`` where that had none), baseline_mw (NaN if neither had a
    value), frozen, cutoff_ts (forecast from data before it). Rows whose cut-off was moved
    back use ``frozen_method`` (default: the method of the longest horizon). Rows follow
    ``issue_times``, then ``horizons``.
    """
    if any(int(h) != h or h < 1 for h in horizons):
        raise ValueError("horizons are whole minutes >= 1")
    missing = [h for h in horizons if h not in method_by_horizon]
    if missing:
        raise ValueError(f"no method given for horizon(s) {missing}")
    if frozen_method is None and len(horizons):
        frozen_method = method_by_horizon[max(horizons)]
    names = {method_by_horizon[h] for h in horizons} | {fallback, frozen_method} - {None}
    unknown = names - set(METHODS)
    if unknown:
        raise ValueError(f"unknown baseline method(s) {sorted(unknown)}")
    blocks = activation_blocks(activations, recovery_margin_min)
    masked = mask_blocks(series, blocks)
    issued_once = epoch_minutes(issue_times)
    issued = np.repeat(issued_once, len(horizons))
    horizon = np.tile(np.asarray(horizons, dtype=np.int64), len(issued_once))
    method = np.tile(
        np.array([method_by_horizon[h] for h in horizons], dtype=object), len(issued_once)
    )
    target = issued + horizon
    cut, frozen = effective_cutoffs(issued, target, blocks)
    method[cut < issued] = frozen_method
    value = _by_method(masked, method, cut, target)
    if fallback is not None:
        gap = np.isnan(value)
        if gap.any():
            value[gap] = forecast(fallback, masked, cut[gap], target[gap])
            method[gap & ~np.isnan(value)] = fallback
    return pd.DataFrame(
        {
            "issued_at": minutes_to_timestamps(issued),
            "target_ts": minutes_to_timestamps(target),
            "horizon_min": horizon,
            "method": pd.array(method, dtype="str"),
            "baseline_mw": value,
            "frozen": frozen,
            "cutoff_ts": minutes_to_timestamps(cut),
        }
    )


def _by_method(
    series: MinuteSeries, method: np.ndarray, cut: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """Forecast each pair with its own method: one call per method (one fit per local day)."""
    value = np.full(cut.shape, np.nan)
    for name in np.unique(method):
        rows = method == name
        value[rows] = forecast(str(name), series, cut[rows], target[rows])
    return value
