"""measurements_hourly_job for real: device-cloud simulator, GX blocking check, dbt hourly marts.

The module builds the sample registry once (registry_job: registry marts and the ISP calendar),
empties the measurement tables and runs the hourly job for one UTC hour, 2025-02-27 10:00. The
last test breaks another hour (12:00) and shows the failing check keeps its aggregates unbuilt.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest
from sample_platform import build_sample_registry

from integrations.measurements.store import ensure_day_partition

pytestmark = pytest.mark.slow

HOUR = "2025-02-27-10:00"
HOUR_START = datetime(2025, 2, 27, 10, tzinfo=UTC)
HOUR_END = datetime(2025, 2, 27, 11, tzinfo=UTC)
BAD_HOUR = "2025-02-27-12:00"
BAD_HOUR_START = datetime(2025, 2, 27, 12, tzinfo=UTC)
BAD_HOUR_END = datetime(2025, 2, 27, 13, tzinfo=UTC)
# Off the 60 s grid of the simulator's PV readings: the bad reading is no duplicate, so the
# power expectation is the only one that fails.
BAD_TS = datetime(2025, 2, 27, 12, 0, 30, tzinfo=UTC)
BAD_LOAD_ID = -4242  # no raw.measurement_loads row: no load supersedes the reading

RAW = dg.AssetKey(["raw", "device_measurements"])
HOURLY_MARTS = [
    dg.AssetKey(["marts", "fct_device_energy_isp"]),
    dg.AssetKey(["marts", "fct_pool_energy_isp"]),
    dg.AssetKey(["marts", "fct_pool_power"]),
]
MART_TABLES = ["marts.fct_device_energy_isp", "marts.fct_pool_energy_isp", "marts.fct_pool_power"]


def _query(url: str, sql: str, params: tuple | dict = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _run_hourly(partition_key: str, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    from orchestration.definitions import defs
    from orchestration.resources import build_resources

    return defs.resolve_job_def("measurements_hourly_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        resources=build_resources(),
        partition_key=partition_key,
        raise_on_error=raise_on_error,
    )


def _quality_checks(result: dg.ExecuteInProcessResult) -> list:
    from assets.measurements.device_cloud import QUALITY_CHECK

    return [
        check
        for check in result.get_asset_check_evaluations()
        if check.asset_key == RAW and check.check_name == QUALITY_CHECK
    ]


def _materialized(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {event.asset_key for event in result.get_asset_materialization_events()}


def _raw_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == RAW]
    return {key: value.value for key, value in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def registry(db_url, simulators, tmp_path_factory) -> str:
    """The sample registry built, and no readings, loads or hourly aggregates of the test day."""

    _, result = build_sample_registry(db_url, tmp_path_factory.mktemp("landing"))
    assert result.success
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "truncate raw.device_measurements, raw.measurement_loads, ops.measurement_conflicts,"
            " raw.measurement_load_hours"
        )
        conn.execute("delete from ops.quarantine where entity = 'measurements'")
        for table, column in zip(MART_TABLES, ("isp_start", "isp_start", "ts"), strict=True):
            if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is not None:
                conn.execute(
                    f"delete from {table} where {column} >= %s and {column} < %s",
                    (datetime(2025, 2, 27, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC)),
                )
    return db_url


@pytest.fixture(scope="module")
def first_run(registry) -> dg.ExecuteInProcessResult:
    """The job run once for the hour 2025-02-27 10:00-11:00 UTC."""
    return _run_hourly(HOUR)


def _snapshot(url: str) -> dict[str, list[tuple]]:
    return {
        "raw": _query(
            url,
            "select device_id, ts, power_w, load_id, received_at from raw.device_measurements"
            " where ts >= %s and ts < %s order by device_id, ts",
            (HOUR_START, HOUR_END),
        ),
        **{table: _query(url, f"select * from {table} order by 1, 2") for table in MART_TABLES},
    }


def test_the_hour_is_loaded_checked_and_aggregated(registry, first_run):
    url = registry
    assert first_run.success
    readings, devices, first, last = _query(
        url,
        "select count(*), count(distinct device_id), min(ts), max(ts)"
        " from raw.device_measurements where ts >= %s and ts < %s",
        (HOUR_START, HOUR_END),
    )[0]
    assert readings > 0 and devices > 500
    assert first >= HOUR_START and last < HOUR_END
    metadata = _raw_metadata(first_run)
    assert metadata["rows_loaded"] == readings
    assert metadata["hours_unchanged"] == 0
    # the loader counted every device of the hour, so the suite did not sort the readings
    counted = _query(
        url,
        "select count(*), sum(readings) from raw.measurement_load_hours where hour_start = %s",
        (HOUR_START,),
    )
    assert counted == [(devices, readings)]

    [check] = _quality_checks(first_run)
    assert check.passed
    assert check.metadata["rows_checked"].value == readings
    assert set(HOURLY_MARTS) <= _materialized(first_run)

    isps = _query(
        url,
        "select isp_start, count(*) from marts.fct_device_energy_isp"
        " where isp_start >= %s and isp_start < %s group by 1 order by 1",
        (HOUR_START, HOUR_END),
    )
    assert [row[0] for row in isps] == [
        datetime(2025, 2, 27, 10, minute, tzinfo=UTC) for minute in (0, 15, 30, 45)
    ]
    assert all(count >= devices for _, count in isps)  # every device reporting in every ISP
    pools = _query(
        url,
        "select count(*), count(distinct pool_id) from marts.fct_pool_energy_isp"
        " where isp_start >= %s and isp_start < %s",
        (HOUR_START, HOUR_END),
    )
    assert pools[0][0] > 0 and pools[0][0] == 4 * pools[0][1]

    resolutions = _query(
        url,
        "select pools.market = 'afrr', power.resolution_seconds, count(distinct power.pool_id),"
        " count(*), min(power.ts), max(power.ts)"
        " from marts.fct_pool_power as power"
        " inner join marts.dim_pools as pools on pools.pool_id = power.pool_id"
        " where power.ts >= %s and power.ts < %s group by 1, 2 order by 1, 2",
        (HOUR_START, HOUR_END),
    )
    assert [(row[0], row[1]) for row in resolutions] == [(False, 60), (True, 4)]
    for is_afrr, step, pool_count, rows, first_ts, last_ts in resolutions:
        assert pool_count > 0
        assert rows == pool_count * 3600 // step  # a full grid for every pool
        assert first_ts == HOUR_START
        assert last_ts == datetime(2025, 2, 27, 10, 59, 56 if is_afrr else 0, tzinfo=UTC)


def test_rematerialising_the_hour_changes_no_table(registry, first_run):
    url = registry
    before = _snapshot(url)
    assert before["raw"] and all(before[table] for table in MART_TABLES)
    again = _run_hourly(HOUR)
    assert again.success
    assert _snapshot(url) == before
    metadata = _raw_metadata(again)
    assert metadata["hours_unchanged"] == 1
    assert metadata["rows_loaded"] == 0
    assert [check.passed for check in _quality_checks(again)] == [True]


def test_pool_energy_adds_up_to_the_energy_of_the_members(registry, first_run):
    rows = _query(
        registry,
        """
        with pools as (
            select isp_start, sum(energy_kwh) as energy_kwh
            from marts.fct_pool_energy_isp
            where isp_start >= %(start)s and isp_start < %(end)s
            group by isp_start
        ),

        members as (
            select device.isp_start, sum(device.energy_kwh) as energy_kwh
            from marts.fct_device_energy_isp as device
            inner join marts.fct_device_pool_membership as membership
                on
                    membership.device_id = device.device_id
                    and membership.valid_from <= device.isp_start
                    and (membership.valid_to is null or membership.valid_to > device.isp_start)
            where device.isp_start >= %(start)s and device.isp_start < %(end)s
            group by device.isp_start
        )

        select pools.isp_start, pools.energy_kwh, members.energy_kwh
        from pools full join members on members.isp_start = pools.isp_start
        order by 1
        """,
        {"start": HOUR_START, "end": HOUR_END},
    )
    assert len(rows) == 4
    for isp_start, pool_kwh, member_kwh in rows:
        assert pool_kwh is not None and member_kwh is not None, isp_start
        assert abs(pool_kwh - member_kwh) <= 1e-6, isp_start
    assert abs(sum(row[1] for row in rows)) > 1  # not trivially zero
    # and over the hour as a whole
    pool_total = sum(row[1] for row in rows)
    member_total = sum(row[2] for row in rows)
    assert abs(pool_total - member_total) <= 1e-6


def test_a_failing_quality_check_blocks_the_hours_aggregates(registry, first_run):
    url = registry
    [(device_id,)] = _query(
        url,
        "select device_id from marts.dim_devices where device_type = 'pv_inverter'"
        " order by device_id limit 1",
    )
    with psycopg.connect(url) as conn:
        ensure_day_partition(conn, datetime(2025, 2, 27, tzinfo=UTC))
        conn.execute(
            "insert into raw.device_measurements (device_id, ts, power_w, load_id, received_at)"
            " values (%s, %s, 3000, %s, now())",
            (device_id, BAD_TS, BAD_LOAD_ID),
        )
    try:
        result = _run_hourly(BAD_HOUR, raise_on_error=False)
        assert not result.success
        # the readings themselves were loaded and the raw asset materialised
        assert RAW in _materialized(result)
        [check] = _quality_checks(result)
        assert not check.passed
        expectations = check.metadata["expectations"].value
        assert "| power_within_device_limits | **FAIL** |" in expectations
        assert device_id in expectations
        for passing in ("timestamps_unique_in_window", "readings_per_device_hour"):
            assert f"| {passing} | pass |" in expectations
        # the check failed the raw step; the dbt step did not run, and nothing was built
        assert result.get_failed_step_keys() == {"raw__device_measurements"}
        assert not result.is_node_success("dbt_hourly_models")
        assert "dbt_hourly_models" not in {
            event.step_key for event in result.get_step_success_events()
        }
        assert not set(HOURLY_MARTS) & _materialized(result)
        for table, column in zip(MART_TABLES, ("isp_start", "isp_start", "ts"), strict=True):
            rows = _query(
                url,
                f"select count(*) from {table} where {column} >= %s and {column} < %s",
                (BAD_HOUR_START, BAD_HOUR_END),
            )
            assert rows == [(0,)], table
        # the readings of the good hour are untouched
        assert _query(
            url,
            "select count(distinct isp_start) from marts.fct_device_energy_isp"
            " where isp_start >= %s and isp_start < %s",
            (HOUR_START, HOUR_END),
        ) == [(4,)]
    finally:
        with psycopg.connect(url) as conn:
            conn.execute(
                "delete from raw.device_measurements where load_id = %s and ts = %s",
                (BAD_LOAD_ID, BAD_TS),
            )
