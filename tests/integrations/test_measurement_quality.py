"""Measurement quality checks (Great Expectations 1.x, set-based in PostgreSQL) on the test DB.

The module brings its own day partition of raw.device_measurements (or, when another module's
partition already holds the day, uses that one) and its own GX- devices in marts.dim_devices
(creating the table if dbt has not), and removes what it added at the end. Every test empties the
day, writes the same clean hour (2025-02-27 10:00-11:00 UTC) and injects one fault.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from integrations.database.urls import with_database
from integrations.quality.measurements import (
    POWER_WITHIN_LIMITS,
    READINGS_PER_HOUR,
    ROWS_IN_WINDOW,
    TIMESTAMPS_UNIQUE,
    QualityReport,
    check_measurements,
)

pytestmark = pytest.mark.slow

DAY_START = datetime(2025, 2, 27, tzinfo=UTC)
DAY_END = datetime(2025, 2, 28, tzinfo=UTC)
HOUR_START = datetime(2025, 2, 27, 10, tzinfo=UTC)
HOUR_END = datetime(2025, 2, 27, 11, tzinfo=UTC)
PARTITION = "raw.device_measurements_20250227"  # the name the loader gives the day

# device, type, rated kW, interval, power W (offtake positive): all well inside their limits
DEVICES = [
    ("GX-BAT-1", "battery", 5.0, "4 seconds", -2500.0),
    ("GX-PV-1", "pv_inverter", 4.0, "4 seconds", -2000.0),
    ("GX-HP-1", "heat_pump", 6.0, "15 minutes", 1500.0),
    ("GX-EV-1", "ev_charger", 11.0, "1 minute", 7000.0),
]
READINGS_IN_CLEAN_HOUR = 900 + 900 + 4 + 60


def _execute(url: str, sql: str, params: tuple = ()) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(sql, params)


@pytest.fixture(scope="module")
def measurement_db(db_url: str) -> Iterator[str]:
    """The test database with a partition for the test day and the GX- devices registered."""
    created: list[str] = []
    with psycopg.connect(db_url, autocommit=True) as conn:
        try:
            conn.execute(
                f"create table {PARTITION} partition of raw.device_measurements"
                " for values from ('2025-02-27 00:00+00') to ('2025-02-28 00:00+00')"
            )
            created.append("partition")
        except (psycopg.errors.InvalidObjectDefinition, psycopg.errors.DuplicateTable):
            pass  # the loader's partition for the day exists: use it, leave it in place
        if conn.execute("select to_regclass('marts.dim_devices')").fetchone()[0] is None:
            conn.execute("create schema if not exists marts")
            conn.execute(
                "create table marts.dim_devices (device_id text primary key, site_id text not"
                " null, device_type text, rated_power_kw numeric, controllable boolean)"
            )
            created.append("dim_devices")
        conn.execute("delete from marts.dim_devices where device_id like 'GX-%'")
        for device_id, device_type, rated_kw, _, _ in DEVICES:
            conn.execute(
                "insert into marts.dim_devices (device_id, site_id, device_type, rated_power_kw,"
                " controllable) values (%s, 'GX-SITE', %s, %s, true)",
                (device_id, device_type, rated_kw),
            )
    yield db_url
    with psycopg.connect(db_url, autocommit=True) as conn:
        if "partition" in created:
            conn.execute(f"drop table {PARTITION}")
        else:
            conn.execute(
                "delete from raw.device_measurements where device_id like %s"
                " and ts >= %s and ts < %s",
                ("GX-%", DAY_START, DAY_END),
            )
        if "dim_devices" in created:
            conn.execute("drop table marts.dim_devices")
        else:
            conn.execute("delete from marts.dim_devices where device_id like 'GX-%'")


@pytest.fixture
def clean_hour(measurement_db: str) -> str:
    """The test day holding only the clean hour: every GX- device at its own interval."""
    with psycopg.connect(measurement_db) as conn:
        conn.execute(
            "delete from raw.device_measurements where ts >= %s and ts < %s",
            (DAY_START, DAY_END),
        )
        for device_id, _, _, interval, power_w in DEVICES:
            conn.execute(
                "insert into raw.device_measurements"
                " (device_id, ts, power_w, received_at, load_id)"
                " select %(device)s, ts, %(power)s, %(end)s, 0"
                " from generate_series(%(start)s, %(end)s - interval '1 microsecond',"
                " %(interval)s::interval) as ts",
                {
                    "device": device_id,
                    "power": power_w,
                    "interval": interval,
                    "start": HOUR_START,
                    "end": HOUR_END,
                },
            )
    return measurement_db


def _by_name(report: QualityReport) -> dict[str, tuple[bool, str]]:
    return {outcome.name: (outcome.success, outcome.observed) for outcome in report.outcomes}


def _only_failure(report: QualityReport) -> str:
    """The observed text of the single failing expectation (asserting that it is the only one)."""
    failing = [outcome for outcome in report.outcomes if not outcome.success]
    assert len(failing) == 1, report.markdown()
    assert not report.success
    return failing[0].name + ": " + failing[0].observed


def test_a_clean_hour_passes_every_expectation(clean_hour):
    report = check_measurements(clean_hour, HOUR_START, HOUR_END)
    assert report.success, report.markdown()
    assert report.rows_checked == READINGS_IN_CLEAN_HOUR
    outcomes = _by_name(report)
    assert list(outcomes) == [
        ROWS_IN_WINDOW,
        POWER_WITHIN_LIMITS,
        TIMESTAMPS_UNIQUE,
        READINGS_PER_HOUR,
    ]
    assert outcomes[ROWS_IN_WINDOW] == (True, f"{READINGS_IN_CLEAN_HOUR} readings")
    assert report.markdown().startswith("| expectation | result | observed |\n|---|---|---|\n")


def test_a_pv_inverter_taking_3_kw_is_out_of_range(clean_hour):
    _execute(
        clean_hour,
        "update raw.device_measurements set power_w = 3000"
        " where device_id = 'GX-PV-1' and ts = '2025-02-27 10:20:00+00'",
    )
    failure = _only_failure(check_measurements(clean_hour, HOUR_START, HOUR_END))
    assert failure.startswith(f"{POWER_WITHIN_LIMITS}: 1 reading out of range: ")
    assert "GX-PV-1 at 2025-02-27T10:20:00+00:00 power 3000 W (pv_inverter, rated 4 kW" in failure


def test_a_battery_at_twice_its_rated_power_is_out_of_range(clean_hour):
    _execute(
        clean_hour,
        "update raw.device_measurements set power_w = -10000"
        " where device_id = 'GX-BAT-1'"
        " and ts in ('2025-02-27 10:00:04+00', '2025-02-27 10:30:00+00')",
    )
    failure = _only_failure(check_measurements(clean_hour, HOUR_START, HOUR_END))
    assert failure.startswith(f"{POWER_WITHIN_LIMITS}: 2 readings out of range: GX-BAT-1 at ")
    assert "power -10000 W (battery, rated 5 kW, allowed -7500..7500 W" in failure


def test_a_4_second_device_missing_half_its_readings_is_incomplete(clean_hour):
    _execute(
        clean_hour,
        "delete from raw.device_measurements where device_id = 'GX-BAT-1'"
        " and ts >= '2025-02-27 10:15+00' and ts < '2025-02-27 10:45+00'",
    )
    failure = _only_failure(check_measurements(clean_hour, HOUR_START, HOUR_END))
    assert failure == (
        f"{READINGS_PER_HOUR}: 1 device-hour short of readings: GX-BAT-1 in the hour from"
        " 2025-02-27T10:00:00+00:00 has 450 readings, needs 810 (every 4 s)"
    )


def test_a_repeated_device_timestamp_is_reported(clean_hour):
    _execute(
        clean_hour,
        "insert into raw.device_measurements (device_id, ts, power_w, received_at, load_id)"
        " values ('GX-EV-1', '2025-02-27 10:07:00+00', 7100, now(), 1)",
    )
    failure = _only_failure(check_measurements(clean_hour, HOUR_START, HOUR_END))
    assert failure.startswith(f"{TIMESTAMPS_UNIQUE}: 1 reading at a repeated timestamp")
    assert "GX-EV-1 has 1 reading at a timestamp it already used in the hour" in failure
    assert "(first at 2025-02-27T10:07:00+00:00)" in failure


def test_an_empty_window_is_valid(clean_hour):
    report = check_measurements(
        clean_hour, datetime(2025, 2, 27, 20, tzinfo=UTC), datetime(2025, 2, 27, 21, tzinfo=UTC)
    )
    assert report.success and report.rows_checked == 0
    assert _by_name(report)[ROWS_IN_WINDOW] == (True, "0 readings (an empty window is valid)")


def test_a_partial_hour_expects_readings_for_its_part_only(clean_hour):
    report = check_measurements(clean_hour, datetime(2025, 2, 27, 10, 30, tzinfo=UTC), HOUR_END)
    assert report.success, report.markdown()
    assert report.rows_checked == 450 + 450 + 2 + 30


def test_a_coarse_device_short_of_its_quarter_hours_is_incomplete(clean_hour):
    _execute(
        clean_hour,
        "delete from raw.device_measurements where device_id = 'GX-HP-1'"
        " and ts >= '2025-02-27 10:30+00'",
    )
    failure = _only_failure(check_measurements(clean_hour, HOUR_START, HOUR_END))
    assert failure.endswith(
        "GX-HP-1 in the hour from 2025-02-27T10:00:00+00:00 has 2 readings, needs 3 (every 900 s)"
    )


def test_a_window_without_time_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        check_measurements("postgresql://unused/none", datetime(2025, 2, 27), HOUR_END)


def test_an_expectation_that_cannot_run_raises_instead_of_failing(db_url):
    with pytest.raises(RuntimeError, match=r'could not run: .*"raw\.device_measurements"'):
        check_measurements(with_database(db_url, "postgres"), HOUR_START, HOUR_END)
