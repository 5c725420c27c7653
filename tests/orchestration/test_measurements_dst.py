"""Energy per ISP on the DST days, through the dbt hourly models and the ISP calendar.

One pool member reads a constant 1000 W every 60 s over the whole local day 2025-03-30 (23 h)
and 2025-10-26 (25 h). dbt builds the hourly models for the day's UTC window (as one Dagster run
over the day's partition range does). Every ISP of the day then holds 0.25 kWh at coverage 1:
a reading is held until the next one, at most 15 minutes, so the last reading of the day (at
end - 60 s) is held past the day's end, and that part falls into the next day's first ISP, which
a build of the day's window does not write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from sample_platform import build_sample_registry

from domain.isp import isps_of_day
from integrations.measurements.store import ensure_day_partition
from integrations.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow

POWER_W = 1000.0
STEP = timedelta(seconds=60)
LOAD_ID = -3030  # synthetic readings: no raw.measurement_loads row
# local day -> (UTC start, UTC end, ISPs)
DAYS = {
    date(2025, 3, 30): (
        datetime(2025, 3, 29, 23, tzinfo=UTC),
        datetime(2025, 3, 30, 22, tzinfo=UTC),
        92,
    ),
    date(2025, 10, 26): (
        datetime(2025, 10, 25, 22, tzinfo=UTC),
        datetime(2025, 10, 26, 23, tzinfo=UTC),
        100,
    ),
}
MARGIN = timedelta(hours=1)  # what the day's build could touch around it (holds, edges)


def _query(url: str, query: str, params: tuple | dict = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def _dbt_build_window(start: datetime, end: datetime, work: Path) -> str:
    """``dbt build`` of the hourly models for [start, end); returns dbt's output."""
    from integrations.database.resource import PostgresResource

    PostgresResource().export_for_dbt()
    dbt = str(Path(sys.executable).parent / "dbt")
    completed = subprocess.run(
        [
            dbt,
            "build",
            "--select",
            "tag:partitioned_hourly",
            "--vars",
            json.dumps({"min_ts": start.isoformat(), "max_ts": end.isoformat()}),
            "--target",
            "ci",
            "--profiles-dir",
            ".",
            "--target-path",
            str(work / "target"),  # keep the shared target/ and logs/ untouched
            "--log-path",
            str(work / "logs"),
        ],
        cwd=DBT_PROJECT_DIR,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    return completed.stdout


@pytest.fixture(scope="module")
def member(db_url, simulators, tmp_path_factory) -> tuple[str, str, str]:
    """The sample registry built; a device that is a member of one non-aFRR pool all year.

    Returns (url, device_id, pool_id).
    """

    _, result = build_sample_registry(db_url, tmp_path_factory.mktemp("landing"))
    assert result.success
    [(device_id, pool_id)] = _query(
        db_url,
        "select m.device_id, m.pool_id from marts.fct_device_pool_membership as m"
        " inner join marts.dim_devices as d on d.device_id = m.device_id"
        " where m.market <> 'afrr' and d.device_type = 'heat_pump'"
        " and m.valid_from <= %s and m.valid_to is null"
        " and (select count(*) from marts.fct_device_pool_membership as o"
        "      where o.device_id = m.device_id) = 1"
        " order by m.device_id limit 1",
        (min(start for start, _, _ in DAYS.values()),),
    )
    return db_url, device_id, pool_id


@pytest.fixture(scope="module")
def built_days(member, tmp_path_factory) -> tuple[str, str, str]:
    """The synthetic readings of both DST days loaded and the hourly models built per day."""
    url, device_id, _ = member
    work = tmp_path_factory.mktemp("dbt")
    with psycopg.connect(url) as conn:
        for start, end, _ in DAYS.values():
            day = start.replace(hour=0)
            while day < end:
                ensure_day_partition(conn, day)
                day += timedelta(days=1)
            # nothing else in or around the day: only this device's readings are aggregated
            conn.execute(
                "delete from raw.device_measurements where ts >= %s and ts < %s",
                (start - MARGIN, end + MARGIN),
            )
            conn.execute(
                "insert into raw.device_measurements (device_id, ts, power_w, load_id, received_at)"
                " select %(device)s, ts, %(power)s, %(load)s, %(end)s"
                " from generate_series(%(start)s, %(end)s - %(step)s, %(step)s) as ts",
                {
                    "device": device_id,
                    "power": POWER_W,
                    "load": LOAD_ID,
                    "start": start,
                    "end": end,
                    "step": STEP,
                },
            )
            for table, column in (
                ("marts.fct_device_energy_isp", "isp_start"),
                ("marts.fct_pool_energy_isp", "isp_start"),
                ("marts.fct_pool_power", "ts"),
            ):
                if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is not None:
                    conn.execute(
                        f"delete from {table} where {column} >= %s and {column} < %s",
                        (start - MARGIN, end + MARGIN),
                    )
    for start, end, _ in DAYS.values():
        output = _dbt_build_window(start, end, work)
        assert "ERROR=0" in output and "PASS=" in output, output[-3000:]
    yield member
    with psycopg.connect(url) as conn:
        for start, end, _ in DAYS.values():
            conn.execute(
                "delete from raw.device_measurements where load_id = %s and ts >= %s and ts < %s",
                (LOAD_ID, start, end),
            )


def test_the_readings_cover_the_local_days(built_days):
    url, device_id, _ = built_days
    for start, end, isps in DAYS.values():
        rows = _query(
            url,
            "select count(*), min(ts), max(ts) from raw.device_measurements"
            " where device_id = %s and ts >= %s and ts < %s",
            (device_id, start, end),
        )
        assert rows == [(isps * 15, start, end - STEP)]


@pytest.mark.parametrize("day", list(DAYS))
def test_every_isp_of_the_day_holds_a_quarter_kwh(built_days, day):
    url, device_id, _ = built_days
    start, end, isps = DAYS[day]
    rows = _query(
        url,
        "select isp.isp_number, isp.isp_start, isp.isps_in_day, energy.energy_kwh,"
        " energy.coverage"
        " from marts.dim_isp as isp"
        " left join marts.fct_device_energy_isp as energy"
        "   on energy.isp_start = isp.isp_start and energy.device_id = %s"
        " where isp.local_date = %s order by isp.isp_start",
        (device_id, day),
    )
    assert [row[0] for row in rows] == list(range(1, isps + 1))
    assert [row[1] for row in rows] == [isp.start for isp in isps_of_day(day)]
    assert rows[0][1] == start and rows[-1][1] == end - timedelta(minutes=15)
    assert {row[2] for row in rows} == {isps}
    assert {(row[3], row[4]) for row in rows} == {(Decimal("0.25"), Decimal("1"))}
    total = sum(row[3] for row in rows)
    assert total == Decimal(isps) / 4  # 23.0 kWh and 25.0 kWh
    assert float(total) == {92: 23.0, 100: 25.0}[isps]

    # The day's build writes the day's ISPs only: the last reading's hold past the day's end
    # belongs to the next day's first ISP, which this build does not write.
    outside = _query(
        url,
        "select count(*) from marts.fct_device_energy_isp where device_id = %s"
        " and ((isp_start >= %s and isp_start < %s) or (isp_start >= %s and isp_start < %s))",
        (device_id, start - MARGIN, start, end, end + MARGIN),
    )
    assert outside == [(0,)]


@pytest.mark.parametrize("day", list(DAYS))
def test_the_pool_gets_the_members_energy_and_power(built_days, day):
    url, _, pool_id = built_days
    start, end, isps = DAYS[day]
    energy = _query(
        url,
        "select count(*), sum(energy_kwh), min(energy_kwh), max(energy_kwh),"
        " max(devices_reporting), min(mean_coverage)"
        " from marts.fct_pool_energy_isp where isp_start >= %s and isp_start < %s",
        (start, end),
    )
    assert energy == [(isps, Decimal(isps) / 4, Decimal("0.25"), Decimal("0.25"), 1, Decimal("1"))]
    assert _query(
        url,
        "select distinct pool_id from marts.fct_pool_energy_isp"
        " where isp_start >= %s and isp_start < %s",
        (start, end),
    ) == [(pool_id,)]
    power = _query(
        url,
        "select count(*), min(ts), max(ts), min(resolution_seconds), max(resolution_seconds),"
        " min(power_mw), max(power_mw)"
        " from marts.fct_pool_power where pool_id = %s and ts >= %s and ts < %s",
        (pool_id, start, end),
    )
    minutes = isps * 15
    assert power == [(minutes, start, end - STEP, 60, 60, Decimal("0.001"), Decimal("0.001"))]


def test_the_repeated_hour_of_october_has_isps_9_to_16(built_days):
    url, device_id, _ = built_days
    rows = _query(
        url,
        "select isp.isp_number, isp.isp_start, isp.local_start_time, energy.energy_kwh"
        " from marts.dim_isp as isp"
        " inner join marts.fct_device_energy_isp as energy"
        "   on energy.isp_start = isp.isp_start and energy.device_id = %s"
        " where isp.local_date = '2025-10-26' and isp.isp_number between 8 and 17"
        " order by isp.isp_number",
        (device_id,),
    )
    first_hour = datetime(2025, 10, 26, 0, tzinfo=UTC)  # 02:00 CEST
    assert rows == [
        (8, first_hour - timedelta(minutes=15), "01:45+02", Decimal("0.25")),
        *[
            (9 + i, first_hour + i * timedelta(minutes=15), f"02:{15 * i:02d}+02", Decimal("0.25"))
            for i in range(4)
        ],
        *[
            (
                13 + i,
                first_hour + timedelta(hours=1) + i * timedelta(minutes=15),
                f"02:{15 * i:02d}+01",
                Decimal("0.25"),
            )
            for i in range(4)
        ],
        (17, first_hour + timedelta(hours=2), "03:00+01", Decimal("0.25")),
    ]


def test_the_skipped_hour_of_march_has_no_isp(built_days):
    url, device_id, _ = built_days
    rows = _query(
        url,
        "select isp.isp_number, isp.isp_start, isp.local_start_time"
        " from marts.dim_isp as isp"
        " inner join marts.fct_device_energy_isp as energy"
        "   on energy.isp_start = isp.isp_start and energy.device_id = %s"
        " where isp.local_date = '2025-03-30' and isp.isp_number in (8, 9)"
        " order by isp.isp_number",
        (device_id,),
    )
    assert rows == [
        (8, datetime(2025, 3, 30, 0, 45, tzinfo=UTC), "01:45+01"),
        (9, datetime(2025, 3, 30, 1, 0, tzinfo=UTC), "03:00+02"),
    ]
