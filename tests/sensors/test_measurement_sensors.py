"""Measurement sensors: landed files, the hours they touch, and device-cloud data that stops.

The files and hours sensors run against an ephemeral Dagster instance; the freshness sensor
against the real test database (its ops.alerts row and raw.measurement_loads).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest

import sensors.measurements as measurements
from orchestration.partitions import hourly_partitions

pytestmark = pytest.mark.slow

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
CSV = "device_id,ts,power_w\nDEV-000001,2025-02-27T10:00:00+00:00,1200.0\n"


def _evaluate_files(cursor: str | None = None) -> dg.SensorResult:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        return measurements.measurement_files_sensor(context)


@pytest.fixture
def landing(tmp_path, monkeypatch):
    """An empty landing zone watched by the sensor; returns its measurements folder."""
    monkeypatch.setattr(measurements, "LANDING_DIR", tmp_path)
    folder = tmp_path / "measurements"
    folder.mkdir()
    return folder


def test_an_empty_landing_zone_requests_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(measurements, "LANDING_DIR", tmp_path)  # not even the folder exists
    result = _evaluate_files()
    assert not result.run_requests
    assert "no new measurement files" in (result.skip_reason or "")
    assert json.loads(result.cursor) == {}


def test_one_run_per_new_content_and_none_for_the_same_content_again(landing):
    (landing / "export_a.csv").write_text(CSV)
    (landing / "notes.txt").write_text("not a measurement file")
    first = _evaluate_files()
    assert len(first.run_requests) == 1
    assert first.run_requests[0].tags["vppal/files"] == "1"
    assert set(json.loads(first.cursor)) == {"export_a.csv"}

    again = _evaluate_files(first.cursor)
    assert not again.run_requests
    assert again.cursor == first.cursor

    # a Parquet file lands: one run for it alone
    (landing / "export_b.parquet").write_bytes(b"PAR1 other content")  # only hashed here
    second = _evaluate_files(again.cursor)
    assert len(second.run_requests) == 1
    assert second.run_requests[0].tags["vppal/files"] == "1"
    assert second.run_requests[0].run_key != first.run_requests[0].run_key

    # the first file rewritten with new content: a new run with a new key
    (landing / "export_a.csv").write_text(CSV.replace("1200.0", "1300.0"))
    third = _evaluate_files(second.cursor)
    assert len(third.run_requests) == 1
    assert third.run_requests[0].run_key not in {
        first.run_requests[0].run_key,
        second.run_requests[0].run_key,
    }
    assert not _evaluate_files(third.cursor).run_requests


def test_the_same_content_under_another_name_gets_the_same_run_key(landing):
    # Dagster launches one run per run key: a renamed copy of loaded content starts no run.
    (landing / "export_a.csv").write_text(CSV)
    first = _evaluate_files()
    (landing / "export_a_copy.csv").write_text(CSV)
    copy = _evaluate_files(first.cursor)
    assert [request.run_key for request in copy.run_requests] == [first.run_requests[0].run_key]


def test_files_landing_together_start_one_run(landing):
    for name in ("a.csv", "b.csv", "c.parquet"):
        (landing / name).write_text(CSV + f"# {name}\n")
    result = _evaluate_files()
    assert len(result.run_requests) == 1
    assert result.run_requests[0].tags["vppal/files"] == "3"


def test_upper_case_suffixes_are_watched_as_the_asset_loads_them(landing):
    (landing / "EXPORT.CSV").write_text(CSV)
    assert len(_evaluate_files().run_requests) == 1


def test_hour_range_request_spans_the_touched_hours():
    hours = ["2025-02-27-05:00", "2025-02-26-23:00", "2025-02-27-00:00"]
    request = measurements.hour_range_request(hours, "measurement-files-17")
    assert request is not None
    assert request.run_key == "measurement-files-17"
    assert request.tags[RANGE_START] == "2025-02-26-23:00"
    assert request.tags[RANGE_END] == "2025-02-27-05:00"
    keys = hourly_partitions.get_partition_keys_in_range(
        dg.PartitionKeyRange(request.tags[RANGE_START], request.tags[RANGE_END])
    )
    assert len(keys) == 7  # 23:00 .. 05:00, both ends included

    single = measurements.hour_range_request(["2025-03-30-01:00"], "k")
    assert single is not None
    assert single.tags[RANGE_START] == single.tags[RANGE_END] == "2025-03-30-01:00"


def test_hour_range_request_is_none_without_hours():
    assert measurements.hour_range_request([], "measurement-files-1") is None


def _files_materialization(instance: dg.DagsterInstance, hours: list[str]) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=dg.AssetKey(["landing", "measurement_files"]),
            metadata={"hours_touched": dg.MetadataValue.text(json.dumps(hours))},
        )
    )


def test_the_hours_sensor_requests_one_run_over_the_hours_a_load_touched():
    sensor = measurements.measurement_hours_sensor
    with dg.instance_for_test() as instance:
        _files_materialization(instance, ["2025-02-27-02:00", "2025-02-27-00:00"])
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        [request] = tick.run_requests
        assert request.tags[RANGE_START] == "2025-02-27-00:00"
        assert request.tags[RANGE_END] == "2025-02-27-02:00"
        assert request.run_key.startswith("measurement-files-")

        # the same materialisation is not seen twice
        seen = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
        assert not seen.run_requests

        # a load that touched no hour (every file skipped) asks for no run
        _files_materialization(instance, [])
        empty = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
        assert not empty.run_requests
        assert "no hour" in (empty.skip_message or "")


# --- freshness: ops.alerts in the test database ------------------------------------------


def _query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _add_load(url: str, loaded_at: datetime, rows_loaded: int, key: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into raw.measurement_loads (source, source_key, content_sha256,"
            " rows_total, rows_loaded, loaded_at) values ('device_cloud', %s, %s, %s, %s, %s)",
            (key, f"sha-{key}", rows_loaded, rows_loaded, loaded_at),
        )


def _stale_alerts(url: str) -> list[tuple]:
    return _query(
        url,
        "select alert_key, entity_id, severity, message, details, opened_at, closed_at"
        " from ops.alerts where alert_type = %s order by alert_id",
        (measurements.STALE_ALERT,),
    )


@pytest.fixture
def freshness(db_url, monkeypatch):
    """No device-cloud loads and no stale alert; 60 minutes of silence allowed.

    Returns a function that evaluates the sensor once.
    """
    from integrations.database.resource import PostgresResource

    monkeypatch.setenv("VPPAL_MEASUREMENTS_STALE_MINUTES", "60")

    def clean() -> None:
        with psycopg.connect(db_url) as conn:
            conn.execute("delete from raw.measurement_loads where source = 'device_cloud'")
            conn.execute(
                "delete from ops.alerts where alert_type = %s", (measurements.STALE_ALERT,)
            )

    clean()

    def evaluate() -> str:
        with dg.instance_for_test() as instance:
            context = dg.build_sensor_context(
                instance=instance, resources={"postgres": PostgresResource()}
            )
            result = measurements.measurement_freshness_sensor(context)
        assert isinstance(result, dg.SkipReason)
        return result.skip_message or ""

    yield evaluate
    clean()


def test_no_device_cloud_load_ever_opens_the_alert(db_url, freshness):
    assert freshness() == "measurements stale: alert open"
    [alert] = _stale_alerts(db_url)
    assert alert[:3] == ("measurements_stale:device_cloud:never", "device_cloud", "error")
    assert alert[3] == "no device-cloud readings since never"
    assert alert[4] == {"last_load": "never", "allowed_minutes": 60}
    assert alert[6] is None


def test_a_silent_device_cloud_opens_one_alert_and_a_fresh_load_closes_it(db_url, freshness):
    now = datetime.now(UTC)
    last = now - timedelta(minutes=90)
    _add_load(db_url, last, 500, "old")
    _add_load(db_url, now, 0, "empty")  # a load without readings is no sign of life
    assert freshness() == "measurements stale: alert open"
    [opened] = _stale_alerts(db_url)
    assert opened[4] == {"last_load": last.isoformat(), "allowed_minutes": 60}
    assert opened[6] is None

    # evaluated again while still silent: the same one row, untouched
    assert freshness() == "measurements stale: alert open"
    assert _stale_alerts(db_url) == [opened]

    _add_load(db_url, datetime.now(UTC), 1_000, "fresh")
    assert freshness() == "measurements fresh"
    [closed] = _stale_alerts(db_url)
    assert closed[:6] == opened[:6]
    assert closed[6] is not None and closed[6] >= opened[5]

    # and fresh again: nothing changes
    assert freshness() == "measurements fresh"
    assert _stale_alerts(db_url) == [closed]


def test_a_recent_load_raises_no_alert(db_url, freshness):
    _add_load(db_url, datetime.now(UTC) - timedelta(minutes=30), 10, "recent")
    assert freshness() == "measurements fresh"
    assert _stale_alerts(db_url) == []


def test_a_second_silence_opens_the_alert_again(db_url, freshness):
    assert freshness() == "measurements stale: alert open"
    _add_load(db_url, datetime.now(UTC), 100, "fresh")
    assert freshness() == "measurements fresh"
    with psycopg.connect(db_url) as conn:  # the device cloud falls silent again
        conn.execute(
            "update raw.measurement_loads set loaded_at = now() - interval '2 hours'"
            " where source = 'device_cloud'"
        )
    assert freshness() == "measurements stale: alert open"
    open_alerts = [alert for alert in _stale_alerts(db_url) if alert[6] is None]
    assert len(open_alerts) == 1
