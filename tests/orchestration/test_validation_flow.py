"""The validation flow for real: baselines issued per hour, frozen at activations, and the
XSD-valid documents posted to the TSO simulator, which acknowledges them.

The module builds the sample registry, loads two hours of 2025-02-27 (09:00 and 10:00 UTC) from
the device-cloud simulator through measurements_hourly_job, and runs validation_hourly_job on
them. The backtest is run on ten days of pool power written straight into the pool power mart
(the measurement path that fills it for real is tested in test_measurements_job.py).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest
import requests
from sample_platform import build_sample_registry

pytestmark = pytest.mark.slow

DAY = datetime(2025, 2, 27, tzinfo=UTC)
HOURS = ("2025-02-27-09:00", "2025-02-27-10:00")
NINE = datetime(2025, 2, 27, 9, tzinfo=UTC)
TEN = datetime(2025, 2, 27, 10, tzinfo=UTC)
ELEVEN = datetime(2025, 2, 27, 11, tzinfo=UTC)
ACTIVATION = (datetime(2025, 2, 27, 9, 20, tzinfo=UTC), datetime(2025, 2, 27, 9, 40, tzinfo=UTC))
BASELINES = dg.AssetKey(["raw", "pool_baselines"])
DOCUMENTS = dg.AssetKey(["outbox", "tso_validation_documents"])
# Ten local days of synthetic pool power for the backtest, well before the test day.
BACKTEST_UNTIL = "2025-02-20"
BACKTEST_START = datetime(2025, 2, 9, 23, tzinfo=UTC)
BACKTEST_END = datetime(2025, 2, 19, 23, tzinfo=UTC)


def _query(url: str, sql: str, params: tuple | dict = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _run(job: str, **kwargs: object) -> dg.ExecuteInProcessResult:
    from orchestration.definitions import defs
    from orchestration.resources import build_resources

    return defs.resolve_job_def(job).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), resources=build_resources(), **kwargs
    )


def _metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def _range(first: str, last: str) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


@pytest.fixture(scope="module")
def measured(db_url, simulators, tmp_path_factory) -> str:
    """The sample registry and two measured hours; no baselines, documents or activations."""
    _, result = build_sample_registry(db_url, tmp_path_factory.mktemp("landing"))
    assert result.success
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "truncate raw.device_measurements, raw.measurement_loads, ops.measurement_conflicts,"
            " raw.pool_baselines, raw.baseline_backtests, raw.tso_activations,"
            " ops.tso_submissions cascade"
        )
        for table, column in (
            ("marts.fct_device_energy_isp", "isp_start"),
            ("marts.fct_pool_energy_isp", "isp_start"),
            ("marts.fct_pool_power", "ts"),
        ):
            if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is not None:
                conn.execute(f"delete from {table} where {column} >= %s", (DAY,))
    assert _run("measurements_hourly_job", tags=_range(*HOURS)).success
    return db_url


@pytest.fixture(scope="module")
def ten_oclock(measured) -> dg.ExecuteInProcessResult:
    """validation_hourly_job for 10:00, before any backtest (every pool on persistence)."""
    return _run("validation_hourly_job", partition_key=HOURS[1])


def _pools_with_power(url: str, start: datetime, end: datetime) -> list[str]:
    rows = _query(
        url,
        "select distinct pool_id from marts.fct_pool_power where ts >= %s and ts < %s order by 1",
        (start, end),
    )
    return [row[0] for row in rows]


def test_every_pool_gets_a_baseline_per_minute_and_horizon(measured, ten_oclock):
    assert ten_oclock.success
    pools = _query(measured, "select count(*) from marts.dim_pools")[0][0]
    rows = _query(
        measured,
        "select horizon_min, method, count(*), count(distinct issued_at), bool_or(frozen)"
        " from raw.pool_baselines where issued_at >= %s and issued_at < %s group by 1, 2",
        (TEN, ELEVEN),
    )
    assert sorted((h, m, n, minutes, f) for h, m, n, minutes, f in rows) == [
        (1, "persistence", pools * 60, 60, False),
        (5, "persistence", pools * 60, 60, False),
        (10, "persistence", pools * 60, 60, False),
    ]
    assert _metadata(ten_oclock, BASELINES)["baselines_added"] == pools * 180


def test_a_persistence_baseline_is_the_minute_measured_before_its_issue(measured, ten_oclock):
    [pool] = _pools_with_power(measured, TEN, ELEVEN)[:1]
    issued = TEN + timedelta(minutes=30)
    measured_before = _query(
        measured,
        "select avg(power_mw) from marts.fct_pool_power where pool_id = %s"
        " and ts >= %s and ts < %s",
        (pool, issued - timedelta(minutes=1), issued),
    )[0][0]
    baselines = _query(
        measured,
        "select horizon_min, baseline_mw, cutoff_ts, target_ts from raw.pool_baselines"
        " where pool_id = %s and issued_at = %s order by 1",
        (pool, issued),
    )
    assert [row[0] for row in baselines] == [1, 5, 10]
    for horizon, value, cutoff, target in baselines:
        assert cutoff == issued
        assert target == issued + timedelta(minutes=horizon)
        assert float(value) == pytest.approx(float(measured_before), abs=1e-6)


def test_issuing_again_revises_nothing(measured, ten_oclock):
    before = _query(
        measured, "select * from raw.pool_baselines where issued_at >= %s order by 1, 2, 3", (TEN,)
    )
    with psycopg.connect(measured) as conn:  # a method chosen later must not rewrite the past
        conn.execute(
            "insert into raw.baseline_backtests (backtest_id, history_start, history_end,"
            " test_days, pool_id, method, horizon_min, n, chosen) select"
            " nextval('raw.baseline_backtest_ids'), %s, %s, 1, pool_id, 'ewma', h, 1, true"
            " from marts.dim_pools, unnest(array[1, 5, 10]) as h",
            (NINE, TEN),
        )
    again = _run("validation_hourly_job", partition_key=HOURS[1])
    metadata = _metadata(again, BASELINES)
    assert metadata["baselines_added"] == 0
    assert "ewma" not in metadata["methods_used"]  # the chart and counts show what was issued
    after = _query(
        measured, "select * from raw.pool_baselines where issued_at >= %s order by 1, 2, 3", (TEN,)
    )
    assert after == before
    with psycopg.connect(measured) as conn:
        conn.execute("truncate raw.baseline_backtests")


def test_the_documents_are_xsd_valid_acknowledged_and_carry_no_device_id(
    measured, ten_oclock, simulators
):
    from integrations.cim.schemas import validate

    pools = _pools_with_power(measured, TEN, ELEVEN)
    rows = _query(
        measured,
        "select document_kind, pool_id, ack_status, outbox_path, revision"
        " from ops.tso_submissions where period_start = %s and period_end = %s",
        (TEN, ELEVEN),
    )
    kinds = sorted({row[0] for row in rows})
    assert kinds == ["device_measurements", "pool_baselines", "pool_measurements"]
    assert {row[1] for row in rows if row[0] == "pool_measurements"} == set(pools)
    assert {row[2] for row in rows} == {"accepted"}
    assert {row[4] for row in rows} == {1}
    devices = [row[0] for row in _query(measured, "select device_id from marts.dim_devices")]
    for kind, _pool, _status, path, _revision in rows:
        with open(path, "rb") as handle:
            xml = handle.read()
        validate(xml, "MeasurementValue_MarketDocument")
        if kind == "device_measurements":
            text = xml.decode()
            assert "PSN-" in text
            assert not any(device in text for device in devices)
    listing = requests.get(f"{simulators['VPPAL_TSO_URL']}/api/v1/documents", timeout=10).json()
    assert listing  # the TSO holds what it acknowledged


def test_sending_the_hour_again_sends_nothing_new(measured, ten_oclock):
    count = _query(measured, "select count(*) from ops.tso_submissions")[0][0]
    again = _run("validation_hourly_job", partition_key=HOURS[1])
    metadata = _metadata(again, DOCUMENTS)
    assert metadata["accepted"] == 0
    assert metadata["unchanged"] == count
    assert _query(measured, "select count(*) from ops.tso_submissions")[0][0] == count


def test_baselines_freeze_at_the_start_of_an_activation(measured):
    [pool] = _pools_with_power(measured, NINE, TEN)[:1]
    with psycopg.connect(measured) as conn:
        conn.execute(
            "insert into raw.tso_activations (activation_id, revision, pool_id, market,"
            " direction, requested_mw, valid_from, valid_to)"
            " values ('ACT-TEST-1', 1, %s, 'afrr', 'up', 1, %s, %s)",
            (pool, *ACTIVATION),
        )
    result = _run("validation_hourly_job", partition_key=HOURS[0])
    assert result.success
    start, end = ACTIVATION
    recovered = end + timedelta(minutes=15)  # the recovery margin after the activation
    before_start = _query(
        measured,
        "select avg(power_mw) from marts.fct_pool_power where pool_id = %s"
        " and ts >= %s and ts < %s",
        (pool, start - timedelta(minutes=1), start),
    )[0][0]
    rows = _query(
        measured,
        "select issued_at, target_ts, frozen, cutoff_ts, baseline_mw from raw.pool_baselines"
        " where pool_id = %s and issued_at >= %s and issued_at < %s and horizon_min = 10",
        (pool, NINE, TEN),
    )
    frozen = [row for row in rows if row[2]]
    assert {row[1] for row in frozen} == {
        start + timedelta(minutes=m) for m in range(int((recovered - start).seconds / 60))
    }
    for issued, _target, _frozen, cutoff, value in frozen:
        # never data after the issue, never data from inside the activation
        assert cutoff == min(issued, start)
        if issued >= start:  # persistence frozen at the start: the minute before it
            assert float(value) == pytest.approx(float(before_start), abs=1e-6)
    free = [row for row in rows if not row[2]]
    for issued, _target, _frozen, cutoff, _value in free:  # issued inside: back to the start
        assert cutoff == (start if start <= issued <= recovered else issued)


@pytest.fixture(scope="module")
def backtested(measured) -> dg.ExecuteInProcessResult:
    """Ten days of a daily-cycle pool power for two pools, then baseline_backtest_job."""
    pools = [row[0] for row in _query(measured, "select pool_id from marts.dim_pools limit 2")]
    minutes = int((BACKTEST_END - BACKTEST_START).total_seconds() // 60)
    with psycopg.connect(measured) as conn:
        for number, pool in enumerate(pools):
            rows = [
                (
                    pool,
                    BACKTEST_START + timedelta(minutes=m),
                    round(2 + number + math.sin(2 * math.pi * m / 1440) + 0.05 * math.sin(m), 6),
                )
                for m in range(minutes)
            ]
            with conn.cursor().copy(
                "copy marts.fct_pool_power (pool_id, ts, power_mw) from stdin"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
    result = _run(
        "baseline_backtest_job",
        run_config={
            "ops": {
                "raw__baseline_backtests": {"config": {"until": BACKTEST_UNTIL, "history_days": 10}}
            }
        },
    )
    yield result
    with psycopg.connect(measured) as conn:
        conn.execute(
            "delete from marts.fct_pool_power where ts >= %s and ts < %s",
            (BACKTEST_START, BACKTEST_END),
        )


def test_the_backtest_scores_every_method_and_chooses_one_per_pool_and_horizon(
    measured, backtested
):
    assert backtested.success
    rows = _query(
        measured,
        "select pool_id, horizon_min, count(*), count(*) filter (where chosen),"
        " min(test_days), sum(forecasts_scored) from marts.baseline_accuracy group by 1, 2",
    )
    scored = [row for row in rows if row[5] > 0]
    assert len(scored) == 2 * 3
    for _pool, _horizon, methods, chosen, test_days, _n in scored:
        assert methods == 5
        assert chosen == 1
        assert test_days == 3
    # a smooth daily cycle: the chosen method beats persistence 10 minutes ahead
    beaten = _query(
        measured,
        "select c.pool_id, c.mae_mw, p.mae_mw from marts.baseline_accuracy c"
        " join marts.baseline_accuracy p on p.pool_id = c.pool_id"
        " and p.horizon_min = c.horizon_min and p.method = 'persistence'"
        " where c.chosen and c.horizon_min = 10 and c.forecasts_scored > 0",
    )
    assert len(beaten) == 2
    assert all(chosen < persistence for _, chosen, persistence in beaten)
    # the job also (re)built the baseline views: the mart shows every issued baseline
    assert _query(measured, "select count(*) from marts.fct_pool_baselines") == _query(
        measured, "select count(*) from raw.pool_baselines"
    )


def test_a_backtest_without_enough_history_fails_clearly(measured):
    result = _run(
        "baseline_backtest_job",
        run_config={"ops": {"raw__baseline_backtests": {"config": {"until": "2025-01-05"}}}},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "more than 7 whole local days" in str(failure.event_specific_data.error)
