"""Baseline-versus-measured charts as PNG bytes, one panel per pool, for asset metadata."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

import pandas as pd

#: Horizon (minutes) → line colour; measured power is drawn in black.
HORIZON_COLOURS = {1: "tab:blue", 5: "tab:orange", 10: "tab:green"}


class Activated(Protocol):
    """What a chart needs of an activation: the pool and when it was steered."""

    pool_id: str
    start: datetime
    end: datetime


def baseline_panels_png(
    measured_mw: Mapping[str, pd.Series],
    baselines: pd.DataFrame,
    activations: Iterable[Activated],
    start: datetime,
    end: datetime,
) -> bytes:
    """Measured power and each horizon's baseline (drawn at its target time) per pool, as PNG.

    ``baselines`` has columns pool_id, target_ts, horizon_min, baseline_mw. Activation windows
    are shaded: there the baseline is the frozen counterfactual, and the gap to the measured
    power is the delivered flexibility.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    from matplotlib import pyplot as plt
    from matplotlib.dates import DateFormatter

    pools = sorted(measured_mw)
    columns = 3 if len(pools) > 4 else max(1, len(pools))
    rows = max(1, math.ceil(len(pools) / columns))
    figure, axes_grid = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 2.6 * rows), dpi=90, squeeze=False, sharex=True
    )
    window = pd.DatetimeIndex([start, end])
    shaded = [a for a in activations if a.end > start and a.start < end]
    try:
        for axes, pool_id in zip(axes_grid.flat, pools, strict=False):
            measured = measured_mw[pool_id]
            measured = measured[(measured.index >= window[0]) & (measured.index < window[1])]
            for activation in (a for a in shaded if a.pool_id == pool_id):
                axes.axvspan(activation.start, activation.end, color="tab:red", alpha=0.15, lw=0)
            axes.plot(measured.index, measured.to_numpy(), color="black", lw=1.0, label="measured")
            own = baselines[baselines["pool_id"] == pool_id] if len(baselines) else baselines
            for horizon, part in own.groupby("horizon_min") if len(own) else ():
                axes.plot(
                    pd.DatetimeIndex(part["target_ts"]),
                    part["baseline_mw"].to_numpy(dtype=float),
                    color=HORIZON_COLOURS.get(int(horizon), "tab:gray"),
                    lw=0.7,
                    alpha=0.85,
                    label=f"{int(horizon)} min ahead",
                )
            axes.set_title(pool_id, fontsize=9)
            axes.tick_params(labelsize=7)
            axes.grid(alpha=0.3)
            axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz="UTC"))
        for axes in list(axes_grid.flat)[len(pools) :]:
            axes.set_visible(False)
        handles, labels = axes_grid.flat[0].get_legend_handles_labels()
        if shaded:
            handles.append(plt.Rectangle((0, 0), 1, 1, color="tab:red", alpha=0.15))
            labels.append("activation (baseline frozen)")
        figure.legend(handles, labels, loc="upper center", ncols=5, fontsize=8)
        figure.supylabel("MW (offtake +)", fontsize=8)
        figure.supxlabel(f"UTC, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}", fontsize=8)
        figure.tight_layout(rect=(0, 0, 1, 0.93))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
