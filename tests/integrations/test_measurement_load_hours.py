"""The loader's counts per load, device and hour, and the quality suite reading them.

Against the real test database: what raw.measurement_load_hours holds after a load, which rows
duplicates and replaced device-cloud windows remove, and that the quality suite gives the same
report from the counts as from sorting the readings (the counts deleted).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from integrations.measurements.loader import load_device_cloud_window, load_file
from integrations.quality.measurements import check_measurements

pytestmark = pytest.mark.slow

HEADER = "device_id,ts,power_w\n"
DEVICES = [("LH-BAT", "battery", 5.0), ("LH-EV", "ev_charger", 11.0), ("LH-PV", "pv_inverter", 4.0)]
HOUR = datetime(2025, 3, 5, 10, tzinfo=UTC)
DAY = (datetime(2025, 3, 5, tzinfo=UTC), datetime(2025, 3, 6, tzinfo=UTC))


@pytest.fixture
def db(db_url: str) -> str:
    """The test database with the LH- devices registered and no readings of the test day."""
    with psycopg.connect(db_url) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute(
            "create table if not exists marts.dim_devices (device_id text primary key,"
            " site_id text, device_type text, rated_power_kw numeric, controllable boolean)"
        )
        conn.execute("delete from marts.dim_devices where device_id like 'LH-%'")
        for device_id, device_type, rated in DEVICES:
            conn.execute(
                "insert into marts.dim_devices (device_id, site_id, device_type, rated_power_kw,"
                " controllable) values (%s, 'LH-SITE', %s, %s, true)",
                (device_id, device_type, rated),
            )
        conn.execute(
            "truncate raw.device_measurements, raw.measurement_loads, ops.measurement_conflicts,"
            " raw.measurement_load_hours"
        )
    yield db_url
    with psycopg.connect(db_url) as conn:
        conn.execute("delete from marts.dim_devices where device_id like 'LH-%'")


def _rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _lines(device: str, start: datetime, step_s: float, count: int, power: float) -> list[str]:
    return [
        f"{device},{(start + timedelta(seconds=i * step_s)).isoformat()},{power}"
        for i in range(count)
    ]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _summaries(url: str) -> list[tuple]:
    return _rows(
        url,
        "select device_id, hour_start, load_id, readings, first_ts, last_ts, gap_tenths,"
        " gap_readings from raw.measurement_load_hours order by 1, 2, 3",
    )


def test_a_load_counts_each_device_hour_and_its_gaps(db, tmp_path):
    # LH-BAT every 4 s from 10:59:00 to 11:00:56 (two hours); LH-EV every 60 s with one reading
    # missing; LH-PV repeats a timestamp (a duplicate: no counts, its readings are read instead)
    lines = (
        _lines("LH-BAT", HOUR + timedelta(minutes=59), 4, 30, -1000)
        + [line for i, line in enumerate(_lines("LH-EV", HOUR, 60, 10, 3000)) if i != 5]
        + _lines("LH-PV", HOUR, 60, 3, -500)
        + _lines("LH-PV", HOUR + timedelta(minutes=1), 60, 1, -600)
    )
    result = load_file(db, _write(tmp_path / "hours.csv", lines))
    assert result.rows_loaded == 30 + 9 + 3 and result.rows_conflicting == 1
    load = result.load_id
    next_hour = HOUR + timedelta(hours=1)
    assert _summaries(db) == [
        (
            "LH-BAT",
            HOUR,
            load,
            15,
            HOUR + timedelta(minutes=59),
            HOUR + timedelta(minutes=59, seconds=56),
            [40],
            [14],
        ),
        ("LH-BAT", next_hour, load, 15, next_hour, next_hour + timedelta(seconds=56), [40], [14]),
        ("LH-EV", HOUR, load, 9, HOUR, HOUR + timedelta(minutes=9), [600, 1200], [7, 1]),
    ]


def test_duplicates_across_loads_remove_the_counts_of_the_hours_they_shrink(db, tmp_path):
    first = load_file(db, _write(tmp_path / "a.csv", _lines("LH-EV", HOUR, 60, 10, 3000)))
    # the same readings again, and one hour later new ones: the equal duplicates are dropped
    # from the second load, so its count of 10:00 no longer holds; the first load's does
    again = _lines("LH-EV", HOUR, 60, 10, 3000) + _lines(
        "LH-EV", HOUR + timedelta(hours=1), 60, 5, 3000
    )
    second = load_file(db, _write(tmp_path / "b.csv", again))
    assert second.rows_duplicate == 10
    assert [(row[1], row[2]) for row in _summaries(db)] == [
        (HOUR, first.load_id),
        (HOUR + timedelta(hours=1), second.load_id),
    ]
    # a conflicting value supersedes the first load's reading: its count goes too (the third
    # load's own count holds; the hour now has readings of two loads, which the suite reads)
    third = load_file(db, _write(tmp_path / "c.csv", ["LH-EV," + HOUR.isoformat() + ",3500"]))
    assert third.rows_conflicting == 1
    assert [(row[1], row[2]) for row in _summaries(db)] == [
        (HOUR, third.load_id),
        (HOUR + timedelta(hours=1), second.load_id),
    ]


def test_a_replaced_device_cloud_window_takes_its_counts_along(db):
    end = HOUR + timedelta(hours=1)

    def pages(values: list[float]):
        return iter(
            [
                [
                    {
                        "device_id": "LH-EV",
                        "ts": (HOUR + timedelta(minutes=i)).isoformat(),
                        "power_w": value,
                    }
                    for i, value in enumerate(values)
                ]
            ]
        )

    first = load_device_cloud_window(db, HOUR, end, pages([100, 200, 300]))
    assert [(row[2], row[3]) for row in _summaries(db)] == [(first.load_id, 3)]
    changed = load_device_cloud_window(db, HOUR, end, pages([100, 250]))
    assert [(row[2], row[3]) for row in _summaries(db)] == [(changed.load_id, 2)]


def _report(url: str, start: datetime, end: datetime) -> list[tuple]:
    report = check_measurements(url, start, end)
    return [(o.name, o.success, o.observed) for o in report.outcomes] + [report.rows_checked]


def test_the_suite_reads_the_counts_as_it_would_read_the_readings(db, tmp_path):
    lines = (
        # every 4 s over two hours, but 10:30-11:00 missing: short of readings
        _lines("LH-BAT", HOUR, 4, 450, -1000)
        + _lines("LH-BAT", HOUR + timedelta(hours=1), 4, 900, -1200)
        # every 60 s with a 2.9 s jitter pattern over two hours, one reading beyond the rating
        + [
            f"LH-EV,{(HOUR + timedelta(seconds=60 * i + (i % 3) * 1.45)).isoformat()},"
            f"{-1000 if i == 70 else 3000}"
            for i in range(120)
        ]
        # a PV inverter whose readings come in two loads within one hour (read, not counted)
        + _lines("LH-PV", HOUR, 60, 30, -500)
    )
    load_file(db, _write(tmp_path / "window.csv", lines))
    later = _lines("LH-PV", HOUR + timedelta(minutes=30), 60, 30, 100)  # a PV taking off
    load_file(db, _write(tmp_path / "pv.csv", later))
    counted = _rows(db, "select distinct device_id from raw.measurement_load_hours order by 1")
    assert counted == [("LH-BAT",), ("LH-EV",), ("LH-PV",)]

    windows = [
        (HOUR, HOUR + timedelta(hours=1)),
        (HOUR, HOUR + timedelta(hours=2)),
        (HOUR + timedelta(hours=1), HOUR + timedelta(hours=2)),
        (HOUR + timedelta(minutes=20), HOUR + timedelta(minutes=50)),  # cuts the hour
    ]
    from_counts = [_report(db, start, end) for start, end in windows]
    with psycopg.connect(db) as conn:
        conn.execute("delete from raw.measurement_load_hours")
    from_readings = [_report(db, start, end) for start, end in windows]
    assert from_counts == from_readings
    first_hour = {name: (success, text) for name, success, text in from_counts[0][:-1]}
    assert not first_hour["readings_per_device_hour"][0]
    assert (
        "LH-BAT in the hour from 2025-03-05T10:00:00+00:00"
        in first_hour["readings_per_device_hour"][1]
    )
    assert "LH-EV at 2025-03-05T11:10:01.450000" in from_counts[1][1][2]  # an EV charger injecting
    assert "LH-PV" in first_hour["power_within_device_limits"][1]
