"""Baselines in PostgreSQL: pool minute series in, issued baselines and backtests out."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg

from domain.baselines.backtest import ACCURACY_COLUMNS
from integrations.activation_runs import ACTIVATION_RUNS_CTE

#: The columns of raw.pool_baselines a run writes, in COPY order.
BASELINE_COLUMNS = (
    "pool_id",
    "issued_at",
    "horizon_min",
    "target_ts",
    "method",
    "baseline_mw",
    "frozen",
    "cutoff_ts",
    "run_id",
)
SCORE_COLUMNS = ACCURACY_COLUMNS


@dataclass(frozen=True)
class ActivationWindow:
    """A pool's activation as the baseline sees it: from when to when power was steered."""

    activation_id: str
    pool_id: str
    start: datetime
    end: datetime


def pool_minute_series(
    conn: psycopg.Connection, start: datetime, end: datetime
) -> dict[str, pd.Series]:
    """Each pool's measured power in MW per minute in [start, end), UTC, NaN where none.

    4-second pools are averaged over the buckets present in the minute; 1-minute pools are
    read as they are. Every pool of ``marts.dim_pools`` gets a series, empty ones all NaN.
    """
    grid = pd.date_range(
        pd.Timestamp(start).tz_convert("UTC"),
        pd.Timestamp(end).tz_convert("UTC"),
        freq="1min",
        inclusive="left",
    )
    pools = [row[0] for row in conn.execute("select pool_id from marts.dim_pools order by 1")]
    rows = conn.execute(
        "select pool_id, date_bin('1 minute', ts, '2000-01-01 00:00+00') as minute,"
        " avg(power_mw)::double precision"
        " from marts.fct_pool_power where ts >= %s and ts < %s group by 1, 2",
        (start, end),
    ).fetchall()
    frame = pd.DataFrame(rows, columns=["pool_id", "minute", "power_mw"])
    series: dict[str, pd.Series] = {}
    for pool_id in pools:
        part = frame[frame["pool_id"] == pool_id]
        values = pd.Series(
            part["power_mw"].to_numpy(dtype=float),
            index=pd.DatetimeIndex(pd.to_datetime(part["minute"], utc=True)),
            dtype=float,
        )
        series[pool_id] = values.reindex(grid).rename(pool_id)
    return series


ACTIVATION_WINDOWS_SQL = f"""{ACTIVATION_RUNS_CTE}
select activation_id, pool_id, first_from, ran_to
from activation_runs
where ran_to > %(start)s and first_from < %(end)s
order by activation_id
"""


def activation_windows(
    conn: psycopg.Connection, start: datetime, end: datetime
) -> list[ActivationWindow]:
    """Activations overlapping [start, end), each over the whole time it ran.

    An activation runs from its first revision's start (a revision starts later and replaces
    the rest) to its latest revision's end, or to the start of a latest revision of 0 MW,
    which ends it. The latest revision's window alone would start the freeze minutes late,
    with the pool already responding to the earlier revisions.
    """
    rows = conn.execute(ACTIVATION_WINDOWS_SQL, {"start": start, "end": end}).fetchall()
    return [ActivationWindow(*row) for row in rows]


def chosen_methods(conn: psycopg.Connection) -> dict[tuple[str, int], str]:
    """The method the latest backtest chose per (pool, horizon); empty before any backtest."""
    rows = conn.execute(
        "select pool_id, horizon_min, method from raw.baseline_backtests"
        " where chosen and backtest_id = (select max(backtest_id) from raw.baseline_backtests)"
    ).fetchall()
    return {(pool_id, int(horizon)): method for pool_id, horizon, method in rows}


def _cell(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def insert_baselines(conn: psycopg.Connection, rows: pd.DataFrame, run_id: str | None) -> int:
    """Add issued baselines; rows already issued stay as they are. Return the rows added.

    The rows travel as one CSV stream through COPY into a temporary table (empty field =
    NULL, for a baseline without a value), then into the raw table, skipping issued keys.
    """
    frame = rows.assign(run_id=run_id).loc[:, list(BASELINE_COLUMNS)]
    for column in ("issued_at", "target_ts", "cutoff_ts"):  # ISO 8601 UTC, vectorised
        utc = pd.DatetimeIndex(frame[column]).tz_convert("UTC").tz_localize(None)
        frame[column] = np.char.add(
            np.datetime_as_string(utc.to_numpy("datetime64[s]"), unit="s"), "Z"
        )
    conn.execute(
        "create temporary table incoming_baselines"
        " (like raw.pool_baselines including defaults) on commit drop"
    )
    columns = ", ".join(BASELINE_COLUMNS)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, float_format="%.6f")
    with conn.cursor() as cursor:
        with cursor.copy(f"copy incoming_baselines ({columns}) from stdin (format csv)") as copy:
            copy.write(buffer.getvalue())
        cursor.execute(
            f"insert into raw.pool_baselines ({columns}) select {columns}"
            " from incoming_baselines on conflict do nothing"
        )
        return cursor.rowcount


def issued_in_window(conn: psycopg.Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """The baselines as stored for issue times in [start, end): what the TSO was sent."""
    rows = conn.execute(
        "select pool_id, issued_at, target_ts, horizon_min, method,"
        " baseline_mw::double precision, frozen from raw.pool_baselines"
        " where issued_at >= %s and issued_at < %s",
        (start, end),
    ).fetchall()
    columns = ["pool_id", "issued_at", "target_ts", "horizon_min", "method", "baseline_mw"]
    return pd.DataFrame(rows, columns=[*columns, "frozen"])


def record_backtest(
    conn: psycopg.Connection,
    scores: pd.DataFrame,
    history: tuple[datetime, datetime],
    test_days: int,
    run_id: str | None,
) -> int:
    """Store one backtest's scores under a new backtest id; return the id."""
    (backtest_id,) = conn.execute("select nextval('raw.baseline_backtest_ids')").fetchone()
    columns = ", ".join(SCORE_COLUMNS)
    with (
        conn.cursor() as cursor,
        cursor.copy(
            "copy raw.baseline_backtests (backtest_id, history_start, history_end, test_days,"
            f" run_id, {columns}) from stdin"
        ) as copy,
    ):
        for record in scores.loc[:, list(SCORE_COLUMNS)].itertuples(index=False):
            copy.write_row(
                [backtest_id, history[0], history[1], test_days, run_id]
                + [_cell(value) for value in record]
            )
    return int(backtest_id)
