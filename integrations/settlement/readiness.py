"""When a local day can be settled, and which days wait for a (new) settlement run.

A day is **ready** when

* its prices are known: the price in force for every one of its ISPs (92, 96 or 100);
* every pool has its 10-minute baseline for every minute of the day (a row, even when the
  method had no value: the baseline asset has run for all hours);
* every UTC hour of the day has complete, check-passing measurements: the hour's latest
  materialisation of ``raw/device_measurements`` was followed, in the same run, by a passing
  evaluation of the blocking quality suite (``passes_measurement_quality_suite``, which checks
  completeness per device and hour), and the hour's aggregates (``marts/fct_device_energy_isp``,
  ``marts/fct_pool_power``) were materialised after it. These facts live in Dagster's event log
  (the suite's result is not in the database), so this part reads the instance.

A ready day **waits** when no run has settled it with the digest of its current inputs
(``raw.settlement_runs``): the sensor and the schedule request one run per (day, digest).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import psycopg

from domain.isp import isps_of_day
from domain.settlement.day import day_bounds
from integrations.settlement.inputs import BASELINE_HORIZON_MIN, inputs_digest, plan_day
from integrations.settlement.prices import complete_price_days
from integrations.settlement.store import settled_digests

RAW_READINGS = dg.AssetKey(["raw", "device_measurements"])
QUALITY_CHECK = dg.AssetCheckKey(RAW_READINGS, "passes_measurement_quality_suite")
AGGREGATES = (
    dg.AssetKey(["marts", "fct_device_energy_isp"]),
    dg.AssetKey(["marts", "fct_pool_power"]),
)


@dataclass(frozen=True)
class DayStatus:
    """Whether a day is ready, why not, and the digest of its inputs when it is."""

    local_date: date
    ready: bool
    reason: str
    inputs_digest: str | None = None
    settled: bool = False


def hour_partitions(local_date: date) -> list[str]:
    """The hourly partition keys (UTC) of a local day: 23, 24 or 25."""
    start, end = day_bounds(local_date)
    keys = []
    hour = start
    while hour < end:
        keys.append(f"{hour:%Y-%m-%d-%H:%M}")
        hour += timedelta(hours=1)
    return keys


def _latest_materializations(
    instance: dg.DagsterInstance, key: dg.AssetKey, partitions: list[str]
) -> dict[str, dg.EventLogRecord]:
    """The newest materialisation record per partition."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions),
        limit=len(partitions) * 20,
    )
    latest: dict[str, dg.EventLogRecord] = {}
    for record in result.records:  # newest first
        if record.partition_key is not None and record.partition_key not in latest:
            latest[record.partition_key] = record
    return latest


def _quality_results(instance: dg.DagsterInstance, run_id: str) -> list[tuple[int, bool]]:
    """The quality suite's evaluations recorded by a run: (storage id, passed), in order."""
    records = instance.event_log_storage.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    results = []
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event else None
        if (
            isinstance(evaluation, dg.AssetCheckEvaluation)
            and evaluation.asset_key == QUALITY_CHECK.asset_key
            and evaluation.check_name == QUALITY_CHECK.name
        ):
            results.append((record.storage_id, evaluation.passed))
    return results


def measurement_gaps(instance: dg.DagsterInstance, local_date: date) -> list[str]:
    """The hours of the day without complete, check-passing, aggregated measurements."""
    hours = hour_partitions(local_date)
    loads = _latest_materializations(instance, RAW_READINGS, hours)
    aggregates = [_latest_materializations(instance, key, hours) for key in AGGREGATES]
    results: dict[str, list[tuple[int, bool]]] = {}
    gaps = []
    for hour in hours:
        load = loads.get(hour)
        if load is None:
            gaps.append(f"{hour}: not loaded")
            continue
        if load.run_id not in results:
            results[load.run_id] = _quality_results(instance, load.run_id)
        # the suite's evaluation in the run that loaded the hour, the first after the load
        passed = next(
            (ok for storage_id, ok in results[load.run_id] if storage_id > load.storage_id), None
        )
        if passed is None:
            gaps.append(f"{hour}: quality suite not evaluated")
        elif not passed:
            gaps.append(f"{hour}: quality suite failed")
        elif any(
            hour not in built or built[hour].storage_id < load.storage_id for built in aggregates
        ):
            gaps.append(f"{hour}: aggregates not built since the last load")
    return gaps


def baseline_gaps(conn: psycopg.Connection, local_date: date) -> list[str]:
    """Pools without a 10-minute baseline row for every minute of the day."""
    start, end = day_bounds(local_date)
    minutes = int((end - start).total_seconds() // 60)
    rows = conn.execute(
        "select pools.pool_id, count(baselines.target_ts)::integer"
        " from marts.dim_pools as pools left join marts.fct_pool_baselines as baselines"
        " on baselines.pool_id = pools.pool_id and baselines.horizon_min = %s"
        " and baselines.target_ts >= %s and baselines.target_ts < %s"
        " group by pools.pool_id order by pools.pool_id",
        (BASELINE_HORIZON_MIN, start, end),
    ).fetchall()
    return [f"{pool}: {count} of {minutes} minutes" for pool, count in rows if count < minutes]


def day_status(
    instance: dg.DagsterInstance, conn: psycopg.Connection, local_date: date, price_isps: int
) -> DayStatus:
    """Judge one day; its digest (and whether it was settled with it) when it is ready."""
    expected = len(isps_of_day(local_date))
    if price_isps < expected:
        return DayStatus(local_date, False, f"prices for {price_isps} of {expected} ISPs")
    missing_baselines = baseline_gaps(conn, local_date)
    if missing_baselines:
        return DayStatus(local_date, False, "baselines missing: " + "; ".join(missing_baselines))
    gaps = measurement_gaps(instance, local_date)
    if gaps:
        shown = "; ".join(gaps[:3]) + (f" (+{len(gaps) - 3} more)" if len(gaps) > 3 else "")
        return DayStatus(local_date, False, f"measurements: {shown}")
    digest = inputs_digest(conn, plan_day(conn, local_date))
    settled = (local_date, digest) in settled_digests(conn, [local_date])
    reason = "settled with these inputs" if settled else "ready"
    return DayStatus(local_date, True, reason, digest, settled)


def days_waiting(
    instance: dg.DagsterInstance, url: str, lookback_days: int
) -> tuple[list[DayStatus], list[DayStatus]]:
    """(ready days not yet settled with their current inputs, every day judged).

    The days judged are the newest ``lookback_days`` local days that have any prices.
    """
    judged = []
    with psycopg.connect(url) as conn:
        for local_date, count in complete_price_days(conn, lookback_days):
            try:
                with conn.transaction():  # a savepoint: one day's missing table spoils no other
                    judged.append(day_status(instance, conn, local_date, count))
            except psycopg.errors.UndefinedTable as missing:  # e.g. before the first backtest
                reason = f"not ready: {str(missing).splitlines()[0]}"
                judged.append(DayStatus(local_date, False, reason))
    return [s for s in judged if s.ready and not s.settled], judged


def run_key(status: DayStatus, prefix: str = "settlement") -> str:
    """One key per day and input digest: a day is settled once per set of inputs."""
    assert status.inputs_digest is not None
    return f"{prefix}-{status.local_date.isoformat()}-{status.inputs_digest[:20]}"
