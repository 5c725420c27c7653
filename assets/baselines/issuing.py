"""Pool baselines, issued for every minute of each hourly partition, frozen during activations."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from integrations.database.resource import PostgresResource
from orchestration.partitions import hourly_partitions

POOL_BASELINES = dg.AssetKey(["raw", "pool_baselines"])
POOL_POWER = dg.AssetKey(["marts", "fct_pool_power"])
BACKTESTS = dg.AssetKey(["raw", "baseline_backtests"])
HORIZONS_MIN = (1, 5, 10)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
#: Local days of history read before the issue day: the regression fits on the 15 days before
#: the issue day's midnight (X-of-Y needs 7). Counted from that midnight, not from the hour, so
#: every hour of a day reads the same history and gets the same fit.
HISTORY_DAYS = 16


def local_midnight(moment: datetime) -> datetime:
    """The start of ``moment``'s local day (Europe/Amsterdam), as an aware datetime."""
    local = moment.astimezone(AMSTERDAM)
    return datetime.combine(local.date(), datetime.min.time(), AMSTERDAM)


@dg.asset(
    key=POOL_BASELINES,
    group_name="baselines",
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[POOL_POWER, BACKTESTS],
    kinds={"python", "postgres"},
    owners=["team:data-platform"],
    automation_condition=dg.AutomationCondition.eager(),
)
def pool_baselines(
    context: dg.AssetExecutionContext, postgres: PostgresResource
) -> dg.MaterializeResult:
    """Each pool's baseline for every minute of the window, 1, 5 and 10 minutes ahead.

    Method per pool and horizon: the newest backtest's choice (persistence before any
    backtest). Targets inside an activation are frozen at its start. Rows already issued are
    kept as they are: a baseline is never revised, so re-running an hour adds nothing.
    """
    import pandas as pd

    from domain.baselines.issuing import issue_baselines
    from integrations.baselines.store import (
        activation_windows,
        chosen_methods,
        insert_baselines,
        issued_in_window,
        pool_minute_series,
    )
    from integrations.progress import Progress, relay
    from integrations.reporting.baseline_plot import baseline_panels_png
    from integrations.reporting.images import markdown_image, save_report_image

    window = context.partition_time_window
    history_start = local_midnight(window.start) - timedelta(days=HISTORY_DAYS)
    issue_times = pd.date_range(window.start, window.end, freq="1min", inclusive="left")
    with postgres.connect() as conn:
        series = pool_minute_series(conn, history_start, window.end)
        activations = activation_windows(conn, history_start, window.end)
        chosen = chosen_methods(conn)
        frames = []
        progress = Progress("baselines", len(series), "pools", relay(context.log.info))
        for pool_id, pool_series in series.items():
            methods = {h: chosen.get((pool_id, h), "persistence") for h in HORIZONS_MIN}
            windows = [(a.start, a.end) for a in activations if a.pool_id == pool_id]
            issued = issue_baselines(pool_series, issue_times, HORIZONS_MIN, methods, windows)
            frames.append(issued.assign(pool_id=pool_id))
            progress.advance(note=pool_id)
        rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        added = insert_baselines(conn, rows, context.run_id) if len(rows) else 0
        # what is stored (issued earlier rows win over this run's), for the chart and counts
        rows = issued_in_window(conn, window.start, window.end)
    png = baseline_panels_png(series, rows, activations, window.start, window.end)
    name = f"{window.start:%Y%m%dT%H%MZ}_{window.end:%Y%m%dT%H%MZ}.png"
    plot_path = save_report_image(png, "baselines", name)
    methods_used = (
        rows.groupby(["horizon_min", "method"]).size().rename("baselines").reset_index()
        if len(rows)
        else pd.DataFrame()
    )
    context.log.info("%d baselines issued for the window, %d new", len(rows), added)
    return dg.MaterializeResult(
        metadata={
            "baselines_issued": dg.MetadataValue.int(len(rows)),
            "baselines_added": dg.MetadataValue.int(added),
            "already_issued": dg.MetadataValue.int(len(rows) - added),
            "frozen_baselines": dg.MetadataValue.int(int(rows["frozen"].sum()) if len(rows) else 0),
            "missing_values": dg.MetadataValue.int(
                int(rows["baseline_mw"].isna().sum()) if len(rows) else 0
            ),
            "methods_used": dg.MetadataValue.md(methods_used.to_markdown(index=False))
            if len(methods_used)
            else dg.MetadataValue.text("none"),
            "baseline_vs_measured": dg.MetadataValue.md(
                markdown_image(png, "baseline vs measured per pool")
            ),
            "plot_path": dg.MetadataValue.path(str(plot_path)),
        }
    )
