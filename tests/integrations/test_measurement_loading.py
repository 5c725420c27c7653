"""Measurement intake against the real test database: every quarantine reason, duplicates,
late data, reloads, Parquet, malformed files and device-cloud windows."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from integrations.measurements.loader import load_device_cloud_window, load_file

HEADER = "device_id,ts,power_w\n"
DEVICES = [("MT-BAT", "battery", 5.0), ("MT-HP", "heat_pump", 6.0), ("MT-PV", "pv_inverter", 4.0)]


@pytest.fixture
def db(db_url: str) -> str:
    """The test database with test devices registered and no readings or quarantine."""
    with psycopg.connect(db_url) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute(
            "create table if not exists marts.dim_devices (device_id text primary key,"
            " site_id text, device_type text, rated_power_kw numeric, controllable boolean)"
        )
        conn.execute("delete from marts.dim_devices where device_id like 'MT-%'")
        for device_id, device_type, rated in DEVICES:
            conn.execute(
                "insert into marts.dim_devices (device_id, site_id, device_type, rated_power_kw,"
                " controllable) values (%s, 'MT-SITE', %s, %s, true)",
                (device_id, device_type, rated),
            )
        conn.execute(
            "truncate raw.device_measurements, raw.measurement_loads, ops.measurement_conflicts,"
            " raw.measurement_load_hours"
        )
        conn.execute("delete from ops.quarantine where entity = 'measurements'")
    yield db_url
    with psycopg.connect(db_url) as conn:
        conn.execute("delete from marts.dim_devices where device_id like 'MT-%'")


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _readings(url: str) -> list[tuple]:
    return _rows(url, "select device_id, ts, power_w from raw.device_measurements order by 1, 2")


def test_every_quarantine_reason_names_the_line_and_the_good_rows_load(db, tmp_path):
    path = _write(
        tmp_path / "mixed.csv",
        [
            "MT-BAT,2025-02-27T12:00:00+01:00,1000",  # 2 ok
            "MT-BAT,2025-02-27T12:00:04+01:00,NaN",  # 3 non-finite
            "MT-BAT,2025-02-27T12:00:08,1000",  # 4 no offset
            "MT-XX,2025-02-27T12:00:00+01:00,1000",  # 5 unknown device
            "MT-HP,2025-02-27T12:00:00+01:00,9001",  # 6 above 1.5 x 6 kW
            "MT-HP,2099-01-01T00:00:00+00:00,100",  # 7 future
            "MT-HP,2025-02-27T12:00:00+01:00,1,2",  # 8 malformed row
            "MT-PV,2025-02-27T12:00:00+01:00,lots",  # 9 unparsable power
            "MT-PV,27/02/2025 12:00,-100",  # 10 unparsable timestamp
            ",2025-02-27T12:00:00+01:00,5",  # 11 missing device
            "MT-PV,2025-02-27T12:00:00+01:00,-1500",  # 12 ok (injection)
        ],
    )
    result = load_file(db, path)
    assert result.rows_total == 11 and result.rows_loaded == 2 and result.rows_quarantined == 9
    quarantined = _rows(
        db,
        "select source_line, reason_code, reason from ops.quarantine"
        " where entity = 'measurements' order by source_line",
    )
    assert [(line, code) for line, code, _ in quarantined] == [
        (3, "non_finite_power"),
        (4, "timestamp_without_offset"),
        (5, "unknown_device"),
        (6, "power_above_rated"),
        (7, "future_timestamp"),
        (8, "malformed_row"),
        (9, "unparsable_power"),
        (10, "unparsable_timestamp"),
        (11, "missing_value"),
    ]
    reasons = {code: reason for _, code, reason in quarantined}
    assert reasons["power_above_rated"].startswith("MT-HP at 2025-02-27T12:00:00+01:00")
    assert "9001 W is above 1.5 x the rated 6" in reasons["power_above_rated"]
    assert "MT-XX" in reasons["unknown_device"]
    assert [(d, p) for d, _, p in _readings(db)] == [("MT-BAT", 1000.0), ("MT-PV", -1500.0)]


def test_a_file_is_loaded_once_per_content_whatever_its_name(db, tmp_path):
    lines = ["MT-BAT,2025-02-27T12:00:00+01:00,1000"]
    first = load_file(db, _write(tmp_path / "a.csv", lines))
    again = load_file(db, tmp_path / "a.csv")
    renamed = load_file(db, _write(tmp_path / "b.csv", lines))
    assert first.rows_loaded == 1 and again.skipped and renamed.skipped
    assert len(_readings(db)) == 1


def test_duplicates_in_a_file_equal_dropped_conflicting_keep_the_last_and_are_recorded(
    db, tmp_path
):
    path = _write(
        tmp_path / "dups.csv",
        [
            "MT-BAT,2025-02-27T12:00:00+01:00,1000",
            "MT-BAT,2025-02-27T12:00:00+01:00,1000",
            "MT-HP,2025-02-27T12:00:00+01:00,500",
            "MT-HP,2025-02-27T11:00:00Z,700",  # same instant, other offset, other value
        ],
    )
    result = load_file(db, path)
    assert result.rows_loaded == 2 and result.rows_duplicate == 2 and result.rows_conflicting == 1
    assert [(d, p) for d, _, p in _readings(db)] == [("MT-BAT", 1000.0), ("MT-HP", 700.0)]
    conflicts = _rows(
        db, "select device_id, kept_power_w, dropped_power_w from ops.measurement_conflicts"
    )
    assert conflicts == [("MT-HP", 700.0, 500.0)]


def test_late_data_for_a_loaded_hour_keeps_the_latest_received_value(db, tmp_path):
    load_file(
        db,
        _write(
            tmp_path / "first.csv",
            ["MT-BAT,2025-02-27T12:00:00+01:00,1000", "MT-BAT,2025-02-27T12:00:04+01:00,1100"],
        ),
    )
    late = load_file(
        db,
        _write(
            tmp_path / "late.csv",
            [
                "MT-BAT,2025-02-27T12:00:04+01:00,1100",
                "MT-BAT,2025-02-27T12:00:00+01:00,900",
                "MT-BAT,2025-02-26T09:00:00+01:00,42",
            ],
        ),
    )
    assert late.rows_duplicate == 1  # the equal reading
    assert late.rows_conflicting == 1  # 900 replaces 1000
    readings = _readings(db)
    assert [p for _, _, p in readings] == [42.0, 900.0, 1100.0]
    # the late reading from the day before sits in that day's partition
    partitions = _rows(
        db, "select tableoid::regclass::text from raw.device_measurements where power_w = 42"
    )
    assert partitions == [("raw.device_measurements_20250226",)]
    assert {h.isoformat() for h in late.hours()} >= {"2025-02-26T08:00:00+00:00"}


def test_parquet_files_load_through_the_same_rules(db, tmp_path):
    table = pa.table(
        {
            "device_id": ["MT-BAT", "MT-BAT", "MT-XX"],
            "ts": pa.array(
                [
                    datetime(2025, 2, 27, 11, tzinfo=UTC),
                    datetime(2025, 2, 27, 11, 0, 4, tzinfo=UTC),
                    datetime(2025, 2, 27, 11, tzinfo=UTC),
                ],
                pa.timestamp("ms", tz="UTC"),
            ),
            "power_w": [1000.0, float("inf"), 5.0],
        }
    )
    path = tmp_path / "readings.parquet"
    pq.write_table(table, path)
    result = load_file(db, path)
    assert result.rows_loaded == 1
    assert result.quarantined_by_reason == {"non_finite_power": 1, "unknown_device": 1}
    assert _readings(db)[0][1] == datetime(2025, 2, 27, 11, tzinfo=UTC)


def test_a_parquet_file_with_naive_timestamps_is_quarantined_row_by_row(db, tmp_path):
    table = pa.table(
        {
            "device_id": ["MT-BAT"],
            "ts": pa.array([datetime(2025, 2, 27, 11)], pa.timestamp("s")),
            "power_w": [1.0],
        }
    )
    pq.write_table(table, tmp_path / "naive.parquet")
    result = load_file(db, tmp_path / "naive.parquet")
    assert result.quarantined_by_reason == {"timestamp_without_offset": 1}


def test_a_broken_file_is_read_line_by_line_and_loses_no_good_row(db, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(
        (HEADER + "MT-BAT,2025-02-27T12:00:00+01:00,1000\n").encode()
        + b"MT-HP,2025-02-27T12:00:00+01:00,\xff\xfe\n"  # not UTF-8
        + b'MT-HP,"2025-02-27T12:00:04+01:00,100\n'  # unterminated quote
        + b"MT-PV,2025-02-27T12:00:08+01:00,-50\n"
    )
    result = load_file(db, path)
    assert [(d, p) for d, _, p in _readings(db)] == [("MT-BAT", 1000.0), ("MT-PV", -50.0)]
    quarantined = _rows(
        db,
        "select source_line, reason_code from ops.quarantine where entity = 'measurements'"
        " order by 1",
    )
    assert quarantined == [(3, "malformed_row"), (4, "malformed_row")]
    assert result.rows_loaded == 2


def test_a_file_with_a_wrong_header_is_quarantined_as_a_whole(db, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("device,time,watts\nMT-BAT,2025-02-27T12:00:00+01:00,1\n")
    result = load_file(db, path)
    assert result.quarantined_by_reason == {"unreadable_file": 1}
    reason = _rows(db, "select reason from ops.quarantine where entity = 'measurements'")[0][0]
    assert "expected the columns device_id, ts, power_w" in reason
    assert load_file(db, path).skipped  # recorded, so not refused again on every run


def _pages(start: datetime, values: list[float], step_s: int = 60) -> list[list[dict]]:
    items = [
        {
            "device_id": "MT-HP",
            "ts": (start + timedelta(seconds=i * step_s)).isoformat(),
            "power_w": value,
        }
        for i, value in enumerate(values)
    ]
    return [items[:2], items[2:]]


def test_a_device_cloud_window_fetched_again_is_replaced_or_left_alone(db):
    start = datetime(2025, 2, 27, 11, tzinfo=UTC)
    end = start + timedelta(hours=1)
    first = load_device_cloud_window(db, start, end, iter(_pages(start, [100, 200, 300])))
    before = _rows(db, "select * from raw.device_measurements order by ts")
    same = load_device_cloud_window(db, start, end, iter(_pages(start, [100, 200, 300])))
    assert first.rows_loaded == 3 and same.skipped
    assert _rows(db, "select * from raw.device_measurements order by ts") == before
    changed = load_device_cloud_window(db, start, end, iter(_pages(start, [100, 250])))
    assert changed.rows_loaded == 2
    assert [p for _, _, p in _readings(db)] == [100.0, 250.0]  # the third reading is gone too
    live = _rows(db, "select count(*) from raw.measurement_loads where replaced_by is null")
    assert live == [(1,)]
