"""Baselines for 50 pools over one day: 1,440 issues x 3 horizons each, computed and stored.

Input (not timed): pool power on a 1-minute grid for the 16 local days the issue day needs,
built from the simulator's replays of the bundled real data for the sample fleet's pools; the
50 pools are those 9 series, each shifted by whole days and scaled, so no two are equal.

Timed, in one run on the same machine:
- reference: persistence for every pool and horizon (a lookup per forecast, the floor);
- the methods a backtest usually picks (persistence 1 min, regression 5 and 10 min), the
  slowest mix, including each pool's daily regression fit;
- the same rows written to ``raw.pool_baselines`` with ``insert_baselines`` (COPY + insert
  that keeps issued rows).
Prints seconds, baselines/s, the ratio to the reference and the peak memory of the process.

Runs in a database of its own (``vppal_bench_baselines``) on the embedded server or
VPPAL_DATABASE_URL. Usage: python -m benchmarks.baseline_issue [--pools N]
"""

import argparse
import sys
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from benchmarks._measure import machine, peak_rss_mib, timed
from domain.baselines.issuing import issue_baselines
from domain.isp import MARKET_TZ
from integrations.database import admin
from integrations.database.urls import with_database
from integrations.settings import SAMPLE_DATA_DIR
from simulators.profiles import device_power, load_real_profiles

ISSUE_DAY = date(2025, 2, 27)
HISTORY_DAYS = 16
HORIZONS = (1, 5, 10)
PICKED = {1: "persistence", 5: "regression", 10: "regression"}


def local_midnight(day: date) -> datetime:
    """00:00 Europe/Amsterdam of ``day``."""
    return datetime.combine(day, time(0), MARKET_TZ)


def sample_pool_series(first: date, last: date) -> dict[str, pd.Series]:
    """The initial sample fleet's pools at 1 minute over local days first..last+1 (MW)."""
    batch = SAMPLE_DATA_DIR / "registry" / "2025-01-01_initial"
    devices = pd.read_csv(batch / "devices.csv", dtype=str).set_index("device_id")
    memberships = pd.read_csv(batch / "memberships.csv", dtype=str)
    start, end = local_midnight(first), local_midnight(last + timedelta(days=2))
    length = int((end - start).total_seconds() // 60)
    profiles = load_real_profiles()
    totals: dict[str, np.ndarray] = {}
    for row in memberships.itertuples():
        device = {"device_id": row.device_id, **devices.loc[row.device_id].to_dict()}
        _, power_w = device_power(device, start, end, 60, profiles)
        totals[row.pool_id] = totals.get(row.pool_id, np.zeros(length)) + power_w
    index = pd.date_range(start, end, freq="1min", inclusive="left").tz_convert("UTC")
    return {pool: pd.Series(w / 1e6, index=index) for pool, w in sorted(totals.items())}


def fifty_pools(pools: int) -> dict[str, pd.Series]:
    """``pools`` distinct series for the issue day and its history, from the sample's pools."""
    first = ISSUE_DAY - timedelta(days=HISTORY_DAYS + pools // 9 + 1)
    base = sample_pool_series(first, ISSUE_DAY)
    names = list(base)
    start = local_midnight(ISSUE_DAY - timedelta(days=HISTORY_DAYS))
    end = local_midnight(ISSUE_DAY + timedelta(days=1))
    grid = pd.date_range(start, end, freq="1min", inclusive="left").tz_convert("UTC")
    series = {}
    for number in range(pools):
        source = base[names[number % len(names)]]
        shift = timedelta(days=number // len(names))
        shifted = source.shift(freq=shift).reindex(grid)  # an earlier stretch of the same pool
        series[f"POOL-BENCH-{number:03d}"] = shifted * (1 + 0.1 * number)
    return series


def issue_all(series: dict[str, pd.Series], methods: dict[int, str]) -> pd.DataFrame:
    """Every pool's baselines for the issue day with ``methods`` per horizon."""
    issue_times = pd.date_range(
        local_midnight(ISSUE_DAY),
        local_midnight(ISSUE_DAY + timedelta(days=1)),
        freq="1min",
        inclusive="left",
    ).tz_convert("UTC")
    frames = []
    for pool_id, pool_series in series.items():
        issued = issue_baselines(pool_series, issue_times, HORIZONS, methods)
        frames.append(issued.assign(pool_id=pool_id))
    return pd.concat(frames, ignore_index=True)


def store(url: str, rows: pd.DataFrame) -> int:
    """Write the rows to an emptied raw.pool_baselines; return the rows added."""
    import psycopg

    from integrations.baselines.store import insert_baselines

    with psycopg.connect(url) as conn:
        conn.execute("truncate raw.pool_baselines")
        return insert_baselines(conn, rows, "benchmark")


def main() -> int:
    """Build the input, time the steps, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=50)
    args = parser.parse_args()
    base = admin.prepare_database(lambda _line: None)
    url = with_database(base, "vppal_bench_baselines")
    admin.ensure_database(url)
    admin.migrate(url)

    print(f"# Baselines for {args.pools} pools over {ISSUE_DAY} ({machine()})")
    series, build_s = timed(lambda: fifty_pools(args.pools))
    print(
        f"input: {len(series)} pools x {HISTORY_DAYS + 1} days at 1 min, built in {build_s:.1f} s"
    )
    reference, reference_s = timed(
        lambda: issue_all(series, dict.fromkeys(HORIZONS, "persistence"))
    )
    picked, picked_s = timed(lambda: issue_all(series, PICKED))
    added, store_s = timed(lambda: store(url, picked))
    n = len(picked)
    assert n == len(reference) == args.pools * 1440 * len(HORIZONS)
    print(f"{'step':<44}{'seconds':>9}{'baselines/s':>14}{'x reference':>13}")
    rows = [
        ("persistence for all (reference)", reference_s),
        ("picked methods (persistence, regression x2)", picked_s),
        ("store in raw.pool_baselines", store_s),
        ("picked methods + store", picked_s + store_s),
    ]
    for name, seconds in rows:
        print(f"{name:<44}{seconds:>9.2f}{n / seconds:>14,.0f}{seconds / reference_s:>13.1f}")
    missing = int(picked["baseline_mw"].isna().sum())
    print(f"baselines: {n:,} ({added:,} stored); missing values: {missing}")
    print(f"peak memory of this process: {peak_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
