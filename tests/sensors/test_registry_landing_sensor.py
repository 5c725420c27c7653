import json

import dagster as dg

import sensors.registry_files as registry_files


def _evaluate(cursor=None):
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        return registry_files.registry_landing_sensor(context)


def test_new_files_request_one_run_keyed_by_their_content(tmp_path, monkeypatch):
    monkeypatch.setattr(registry_files, "LANDING_DIR", tmp_path)
    batch = tmp_path / "registry" / "2025-03-01"
    batch.mkdir(parents=True)
    (batch / "pools.csv").write_text("pool_id,market,name\nP1,afrr,a\n")
    first = _evaluate()
    assert len(first.run_requests) == 1
    # same files again: nothing to do
    second = _evaluate(first.cursor)
    assert not second.run_requests
    # a changed file: a new run with another key
    (batch / "pools.csv").write_text("pool_id,market,name\nP1,afrr,b\n")
    third = _evaluate(second.cursor)
    assert len(third.run_requests) == 1
    assert third.run_requests[0].run_key != first.run_requests[0].run_key
    assert json.loads(third.cursor) == {
        "2025-03-01/pools.csv": registry_files.registry_fingerprints()["2025-03-01/pools.csv"]
    }


def test_batches_the_platform_writes_itself_are_not_watched(tmp_path, monkeypatch):
    monkeypatch.setattr(registry_files, "LANDING_DIR", tmp_path)
    batch = tmp_path / "registry" / "device-cloud_00000001-00000003"
    batch.mkdir(parents=True)
    (batch / "devices.csv").write_text("device_id\n")
    assert not _evaluate().run_requests


def test_an_empty_landing_zone_skips_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(registry_files, "LANDING_DIR", tmp_path)
    result = _evaluate()
    assert not result.run_requests
    assert "no new registry files" in (result.skip_reason or "")
