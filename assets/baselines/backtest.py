"""The rolling-origin backtest that picks each pool's baseline method per horizon."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field

from integrations.database.resource import PostgresResource

BACKTESTS = dg.AssetKey(["raw", "baseline_backtests"])
POOL_POWER = dg.AssetKey(["marts", "fct_pool_power"])
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class BacktestConfig(dg.Config):
    """Which history the backtest reads."""

    until: str = Field(
        default="",
        description="Local date (YYYY-MM-DD) the history ends before; empty = today "
        "(Europe/Amsterdam).",
    )
    history_days: int = Field(
        default=14,
        description="Local days of history: the first 7 warm up (X-of-Y days, regression), "
        "the rest are test days (the regression of a test day fits on the days before it).",
    )


def history_window(until: date, days: int) -> tuple[datetime, datetime]:
    """The UTC window of the ``days`` local days before ``until`` (DST days included)."""
    start = datetime.combine(until - timedelta(days=days), time(0), AMSTERDAM)
    end = datetime.combine(until, time(0), AMSTERDAM)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


@dg.asset(
    key=BACKTESTS,
    group_name="baselines",
    deps=[POOL_POWER],
    kinds={"python", "postgres"},
    owners=["team:data-platform"],
)
def baseline_backtests(
    context: dg.AssetExecutionContext, config: BacktestConfig, postgres: PostgresResource
) -> dg.MaterializeResult:
    """Score every baseline method per pool and horizon on history; choose the best per pool.

    Rolling origin over whole local days: each test day is forecast minute by minute from the
    data before each forecast's cut-off only. The newest backtest decides the methods that
    ``pool_baselines`` issues with.
    """
    import pandas as pd

    from domain.baselines.backtest import backtest
    from integrations.baselines.store import (
        activation_windows,
        pool_minute_series,
        record_backtest,
    )

    until = date.fromisoformat(config.until) if config.until else datetime.now(AMSTERDAM).date()
    start, end = history_window(until, config.history_days)
    with postgres.connect() as conn:
        series = pool_minute_series(conn, start, end)
        activations = activation_windows(conn, start, end)
        frames = [
            backtest(
                pool_series,
                pool_id,
                [(a.start, a.end) for a in activations if a.pool_id == pool_id],
            )
            for pool_id, pool_series in series.items()
        ]
        scores = pd.concat([f for f in frames if len(f)], ignore_index=True) if frames else None
        if scores is None or scores.empty or int(scores["n"].sum()) == 0:
            raise dg.Failure(
                f"nothing to score in {start:%Y-%m-%d %H:%M}Z - {end:%Y-%m-%d %H:%M}Z: the "
                "backtest needs pool power on more than 7 whole local days (marts.fct_pool_power)"
            )
        test_days = max(0, config.history_days - 7)
        backtest_id = record_backtest(conn, scores, (start, end), test_days, context.run_id)
    chosen = scores[scores["chosen"]]
    persistence = scores[scores["method"] == "persistence"].set_index(["pool_id", "horizon_min"])
    table = chosen.assign(
        persistence_nmae_pct=[
            persistence.loc[(row.pool_id, row.horizon_min), "nmae_pct"]
            for row in chosen.itertuples()
        ]
    )[["pool_id", "horizon_min", "method", "nmae_pct", "persistence_nmae_pct", "n"]]
    ten = table[table["horizon_min"] == 10]
    beats = int((ten["nmae_pct"] < ten["persistence_nmae_pct"]).sum())
    return dg.MaterializeResult(
        metadata={
            "backtest_id": dg.MetadataValue.int(backtest_id),
            "history": dg.MetadataValue.text(f"{start.isoformat()} – {end.isoformat()}"),
            "pools": dg.MetadataValue.int(int(scores["pool_id"].nunique())),
            "pools_beating_persistence_at_10_min": dg.MetadataValue.int(beats),
            "chosen_methods": dg.MetadataValue.md(table.round(2).to_markdown(index=False)),
            "accuracy": dg.MetadataValue.md(
                scores.round(4).to_markdown(index=False)  # every method, pool and horizon
            ),
        }
    )
