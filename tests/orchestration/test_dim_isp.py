"""marts.dim_isp built by dbt for 2025 agrees with the Python ISP calendar (domain.isp)."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from domain.isp import isps_of_day
from integrations.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow

# A session time zone that is neither UTC nor Amsterdam (+12:45/+13:45, its own DST dates):
# the model must convert explicitly and not lean on the session's TimeZone.
ODD_SESSION_TZ = "Pacific/Chatham"


def _query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def calendar_2025(db_url, tmp_path_factory) -> str:
    """dim_isp and its tests built for the local dates of 2025; returns the database URL."""
    from integrations.database.resource import PostgresResource

    PostgresResource().export_for_dbt()
    work = tmp_path_factory.mktemp("dbt")  # keep the shared target/ and logs/ untouched
    dbt = str(Path(sys.executable).parent / "dbt")
    completed = subprocess.run(
        [
            dbt,
            "build",
            "--select",
            "dim_isp",
            "assert_isp_numbers_run_1_to_n_per_day",
            "--indirect-selection",
            "cautious",  # not the tests of models that refer to dim_isp
            "--target",
            "ci",
            "--vars",
            '{isp_calendar_start: "2025-01-01", isp_calendar_end: "2026-01-01"}',
            "--profiles-dir",
            ".",
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, "PGTZ": ODD_SESSION_TZ},
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "PASS=4" in completed.stdout, completed.stdout[-3000:]
    return db_url


@pytest.mark.parametrize(
    ("day", "count"), [(date(2025, 3, 30), 92), (date(2025, 10, 26), 100), (date(2025, 2, 27), 96)]
)
def test_isps_per_local_day(calendar_2025, day, count):
    rows = _query(
        calendar_2025,
        "select count(*), min(isps_in_day), max(isps_in_day) from marts.dim_isp"
        " where local_date = %s",
        (day,),
    )
    assert rows == [(count, count, count)]


def test_the_year_has_35040_isps_from_local_midnight_to_local_midnight(calendar_2025):
    rows = _query(
        calendar_2025,
        "select count(*), min(isp_start), max(isp_end), min(local_date), max(local_date)"
        " from marts.dim_isp",
    )
    assert rows == [
        (
            35040,
            datetime(2024, 12, 31, 23, 0, tzinfo=UTC),
            datetime(2025, 12, 31, 23, 0, tzinfo=UTC),
            date(2025, 1, 1),
            date(2025, 12, 31),
        )
    ]


@pytest.mark.parametrize("day", [date(2025, 3, 30), date(2025, 10, 26), date(2025, 2, 27)])
def test_the_isps_agree_with_the_python_calendar(calendar_2025, day):
    rows = _query(
        calendar_2025,
        "select isp_start, isp_end, isp_number from marts.dim_isp"
        " where local_date = %s order by isp_start",
        (day,),
    )
    assert rows == [(isp.start, isp.end, isp.number) for isp in isps_of_day(day)]


def test_no_gaps_and_no_overlaps(calendar_2025):
    rows = _query(
        calendar_2025,
        "select count(*) from ("
        " select isp_end, lead(isp_start) over (order by isp_start) as next_start"
        " from marts.dim_isp) as pairs"
        " where next_start is not null and next_start <> isp_end",
    )
    assert rows == [(0,)]
    assert _query(
        calendar_2025,
        "select count(*) from marts.dim_isp where isp_end - isp_start <> interval '15 minutes'",
    ) == [(0,)]


def test_the_repeated_hour_shows_its_offset(calendar_2025):
    rows = _query(
        calendar_2025,
        "select isp_number, local_start_time, utc_offset_minutes from marts.dim_isp"
        " where local_date = '2025-10-26' and isp_number in (8, 9, 12, 13, 16, 17)"
        " order by isp_number",
    )
    assert rows == [
        (8, "01:45+02", 120),
        (9, "02:00+02", 120),
        (12, "02:45+02", 120),
        (13, "02:00+01", 60),
        (16, "02:45+01", 60),
        (17, "03:00+01", 60),
    ]
    spring = _query(
        calendar_2025,
        "select isp_number, local_start_time from marts.dim_isp"
        " where local_date = '2025-03-30' and isp_number in (8, 9) order by isp_number",
    )
    assert spring == [(8, "01:45+01"), (9, "03:00+02")]
