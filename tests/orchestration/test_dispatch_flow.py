"""Dispatch for real: activations published by the TSO simulator's feed, the sensor's intake,
``dispatch_job`` per activation revision (acknowledge, split, setpoints, response), the
device-cloud simulator taking the setpoints, and the raw dispatch tables.

Sensor evaluations are called directly and their run requests executed in process on one
ephemeral instance, as the daemon would launch them (minus the process spawn).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import dagster as dg
import psycopg
import pytest
from sample_platform import build_sample_registry

pytestmark = pytest.mark.slow

ISP = datetime(2025, 2, 27, 10, tzinfo=UTC)
POOL = "POOL-AFRR-1"
BATTERY = "DEV-000528"  # POOL-AFRR-1's 2 MW neighbourhood battery


def _query(url: str, sql: str, params: tuple | dict = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


class Dispatcher:
    """The sensor and the runs it requests, on one instance; run keys already launched skip."""

    def __init__(self) -> None:
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor: str | None = None
        self.launched: set[str] = set()

    def tick(self) -> tuple[dg.SensorResult, list[dg.ExecuteInProcessResult]]:
        from orchestration.definitions import defs
        from orchestration.resources import build_resources
        from sensors.activations import tso_activation_sensor

        resources = build_resources()
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=resources
        )
        result = tso_activation_sensor(context)
        self.cursor = result.cursor
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        runs = []
        for request in result.run_requests or []:
            if request.run_key in self.launched:
                continue  # the daemon skips a run key it launched before
            self.launched.add(request.run_key)
            runs.append(
                defs.resolve_job_def("dispatch_job").execute_in_process(
                    instance=self.instance,
                    partition_key=request.partition_key,
                    resources=resources,
                    raise_on_error=False,
                )
            )
        return result, runs


def _bid(pool: str, mw: str) -> tuple:
    from domain.cim.activation import ActivatedBid

    return (ActivatedBid(f"B-{pool}-TEST", Decimal(mw)),)


@pytest.fixture(scope="module")
def platform(db_url, simulators, tmp_path_factory) -> str:
    _, result = build_sample_registry(db_url, tmp_path_factory.mktemp("landing"))
    assert result.success
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "truncate raw.activation_documents, raw.dispatch_setpoints, raw.dispatch_runs,"
            " raw.tso_activations cascade"
        )
    return db_url


@pytest.fixture(scope="module")
def dispatcher(platform) -> Dispatcher:
    return Dispatcher()


@pytest.fixture(scope="module")
def first(platform, dispatcher, activation_feed):
    item = activation_feed.publish_activation(
        pool_id=POOL,
        market="afrr",
        direction="up",
        valid_from=ISP,
        valid_to=ISP + timedelta(minutes=15),
        bids=_bid(POOL, "1.500"),
    )
    result, runs = dispatcher.tick()
    return item, result, runs


def _run_row(url: str, mrid: str, revision: int = 1) -> dict:
    rows = _query(
        url,
        "select requested_kw, planned_kw, shortfall_kw, response, response_reason,"
        " responded_at, setpoints_sent_at from raw.dispatch_runs"
        " where activation_id = %s and revision = %s",
        (mrid, revision),
    )
    names = ("requested", "planned", "shortfall", "response", "reason", "responded", "sent")
    return dict(zip(names, rows[0], strict=True))


def _setpoints(url: str, mrid: str, revision: int = 1) -> dict[str, tuple]:
    rows = _query(
        url,
        "select device_id, setpoint_kw, target_kw, status, reason from raw.dispatch_setpoints"
        " where activation_id = %s and revision = %s",
        (mrid, revision),
    )
    return {row[0]: row[1:] for row in rows}


def test_an_activation_is_acknowledged_dispatched_and_answered(platform, first, activation_feed):
    item, _result, runs = first
    assert [r.success for r in runs] == [True]
    mrid = item.mrid
    [(acknowledged_at,)] = _query(
        platform,
        "select acknowledged_at from raw.tso_activations where activation_id = %s",
        (mrid,),
    )
    assert acknowledged_at is not None
    run = _run_row(platform, mrid)
    assert run["requested"] == Decimal("1500.000") == run["planned"]
    assert run["shortfall"] == 0 and run["response"] == "activated"
    setpoints = _setpoints(platform, mrid)
    accepted = [s for s in setpoints.values() if s[2] == "accepted"]
    assert sum(s[0] for s in accepted) == Decimal("1500.000")
    timeline = activation_feed.timeline(mrid)["activations"][0]
    assert timeline["acknowledgements"] and timeline["responses"]


def test_acknowledgement_and_response_are_xsd_valid_and_sent(platform, first):
    from integrations.cim.schemas import parse_document, validate_root

    rows = _query(
        platform,
        "select document_kind, outbox_path, ack_status from ops.tso_submissions"
        " where document_kind in ('activation_acknowledgement', 'activation_response')",
    )
    assert {r[0] for r in rows} == {"activation_acknowledgement", "activation_response"}
    for _, path, status in rows:
        assert status == "accepted"
        with open(path, "rb") as handle:
            kind, root = parse_document(handle.read())
        validate_root(root, kind)


def test_the_device_cloud_serves_the_setpoint_in_the_measurements(platform, first):
    from orchestration.resources import build_resources

    item, *_ = first
    setpoints = _setpoints(platform, item.mrid)
    device, (setpoint, target, status, _) = max(setpoints.items(), key=lambda kv: kv[1][0])
    assert status == "accepted" and setpoint > 0
    cloud = build_resources()["device_cloud"]
    readings = [
        r
        for page in cloud.measurements(ISP + timedelta(minutes=5), ISP + timedelta(minutes=6))
        for r in page
        if r["device_id"] == device
    ]
    assert readings
    for reading in readings:  # the target within the simulator's 1 % noise
        assert abs(reading["power_w"] / 1000 - float(target)) <= 0.02 * abs(float(target)) + 0.05


def test_a_document_delivered_twice_is_dispatched_once(
    platform, first, dispatcher, activation_feed
):
    item, *_ = first
    activation_feed.publish_duplicate(item.mrid)
    result, runs = dispatcher.tick()
    assert runs == []  # the same run key: the daemon does not launch it again
    assert [r.run_key for r in result.run_requests] == [f"activation-{item.mrid}-r001"]
    assert not result.dynamic_partitions_requests
    assert _query(
        platform,
        "select count(*) from raw.tso_activations where activation_id = %s",
        (item.mrid,),
    ) == [(1,)]


def test_a_revision_replaces_the_plan(platform, first, dispatcher, activation_feed):
    item, *_ = first
    activation_feed.publish_revision(item.mrid, requested_mw=Decimal("0.800"))
    _, runs = dispatcher.tick()
    assert [r.success for r in runs] == [True]
    run = _run_row(platform, item.mrid, 2)
    assert run["planned"] == Decimal("800.000") and run["response"] == "activated"
    accepted = [s for s in _setpoints(platform, item.mrid, 2).values() if s[2] == "accepted"]
    assert sum(s[0] for s in accepted) == Decimal("800.000")


def test_a_revision_to_zero_ends_the_activation_and_releases_the_devices(
    platform, dispatcher, activation_feed
):
    start = ISP + timedelta(hours=2)
    item = activation_feed.publish_activation(
        pool_id=POOL,
        market="afrr",
        direction="up",
        valid_from=start,
        valid_to=start + timedelta(minutes=15),
        bids=_bid(POOL, "0.600"),
    )
    dispatcher.tick()
    held = {d for d, s in _setpoints(platform, item.mrid).items() if s[2] == "accepted"}
    activation_feed.publish_revision(item.mrid, requested_mw=Decimal("0"))
    _, runs = dispatcher.tick()
    assert [r.success for r in runs] == [True]
    assert _run_row(platform, item.mrid, 2)["response"] == "ended"
    released = _setpoints(platform, item.mrid, 2)
    assert all(released[d][0] == 0 and released[d][1] is not None for d in held)


def test_a_device_failing_mid_dispatch_hands_its_share_to_the_others(
    platform, dispatcher, activation_feed, setpoint_book
):
    setpoint_book.set_failing({BATTERY})
    try:
        item = activation_feed.publish_activation(
            pool_id=POOL,
            market="afrr",
            direction="up",
            valid_from=ISP + timedelta(minutes=15),
            valid_to=ISP + timedelta(minutes=30),
            bids=_bid(POOL, "0.050"),
        )
        _, runs = dispatcher.tick()
    finally:
        setpoint_book.set_failing(())
    assert [r.success for r in runs] == [True]
    setpoints = _setpoints(platform, item.mrid)
    assert setpoints[BATTERY][2] == "failed" and setpoints[BATTERY][0] == 0
    assert "simulated_failure" in setpoints[BATTERY][3]
    run = _run_row(platform, item.mrid)
    accepted = sum(s[0] for s in setpoints.values() if s[2] == "accepted")
    assert accepted == run["planned"] == Decimal("50.000")  # the households took it over
    assert run["response"] == "activated"


def test_an_infeasible_request_gets_what_the_pool_can_and_the_shortfall(
    platform, dispatcher, activation_feed
):
    item = activation_feed.publish_activation(
        pool_id=POOL,
        market="afrr",
        direction="up",
        valid_from=ISP + timedelta(minutes=30),
        valid_to=ISP + timedelta(minutes=45),
        bids=_bid(POOL, "40.000"),
    )
    _, runs = dispatcher.tick()
    assert [r.success for r in runs] == [True]
    run = _run_row(platform, item.mrid)
    assert 0 < run["planned"] < Decimal("40000")
    assert run["shortfall"] == Decimal("40000.000") - run["planned"]
    assert run["response"] == "partially_activated" and "kW available" in run["reason"]
    excluded_sites = {
        r[0]
        for r in _query(
            platform,
            "select site_id from marts.site_market_status where excluded_from_disaggregation"
            " and valid_from < %s and (valid_to is null or valid_to > %s)",
            (ISP + timedelta(minutes=45), ISP + timedelta(minutes=30)),
        )
    }
    rows = _query(
        platform,
        "select site_id, status, reason from raw.dispatch_setpoints where activation_id = %s",
        (item.mrid,),
    )
    for site_id, status, reason in rows:
        if site_id in excluded_sites:
            assert status == "left_out" and reason == "excluded_site"


def test_malformed_unsigned_and_forged_documents_are_refused_and_nothing_else_is_affected(
    platform, dispatcher, activation_feed
):
    good = activation_feed.publish_activation(
        pool_id=POOL,
        market="afrr",
        direction="up",
        valid_from=ISP + timedelta(minutes=45),
        valid_to=ISP + timedelta(minutes=60),
        bids=_bid(POOL, "0.500"),
    )
    activation_feed.publish_raw(good.xml)  # the same bytes unsigned: a known document
    forged = good.xml.replace(b"0.500", b"9.500")
    assert forged != good.xml
    activation_feed.publish_raw(forged, signature=good.signature)
    activation_feed.publish_raw(b"<Activation_MarketDocument>", signature=None)
    _, runs = dispatcher.tick()
    assert [r.success for r in runs] == [True]  # only the good one
    refused = _query(
        platform,
        "select reason_code, reason from raw.activation_documents where status = 'refused'",
    )
    codes = sorted(code for code, _ in refused)
    assert codes == ["signature_mismatch", "signature_unsigned"]  # forged; broken and unsigned
    assert all("activation document" in reason for _, reason in refused)
    alerts = _query(
        platform, "select count(*) from ops.alerts where alert_type = 'activation_refused'"
    )
    assert alerts == [(len(refused),)]
    quarantined = _query(
        platform, "select count(*) from ops.quarantine where entity = 'activation_document'"
    )
    assert quarantined == [(len(refused),)]
    assert _run_row(platform, good.mrid)["response"] == "activated"


def test_a_landed_file_with_its_signature_is_taken_and_one_without_is_refused(
    platform, dispatcher, activation_feed, tmp_path, monkeypatch
):
    import sensors.activations as module
    from domain.cim.activation import Activation, build_activation_document
    from domain.tso_signature import sign
    from integrations.secrets import load_tso_signing_key

    activation = Activation(
        mrid="FILE-ACTIVATION-1",
        revision=1,
        created_at=datetime.now(UTC).replace(microsecond=0),
        pool_id=POOL,
        market="afrr",
        direction="up",
        valid_from=ISP + timedelta(hours=1),
        valid_to=ISP + timedelta(hours=1, minutes=15),
        bids=_bid(POOL, "0.300"),
    )
    xml = build_activation_document(activation)
    (tmp_path / "signed.xml").write_bytes(xml)
    (tmp_path / "signed.xml.sig").write_text(sign(load_tso_signing_key(), xml))
    (tmp_path / "unsigned.xml").write_bytes(xml.replace(b"FILE-ACTIVATION-1", b"FILE-ACTIVATION-2"))
    monkeypatch.setattr(module, "ACTIVATION_LANDING", tmp_path)
    _, runs = dispatcher.tick()
    assert [r.success for r in runs] == [True]
    assert _run_row(platform, "FILE-ACTIVATION-1")["response"] == "activated"
    sources = dict(
        _query(
            platform,
            "select source, status from raw.activation_documents where source like 'file:%%'",
        )
    )
    assert sources == {"file:signed.xml": "accepted", "file:unsigned.xml": "refused"}
    # The simulated TSO never published this one, so it refuses the answer: an alert.
    alerts = _query(
        platform,
        "select message from ops.alerts where alert_type = 'tso_document_rejected'"
        " and details->>'kind' = 'activation_response'",
    )
    assert any("FILE-ACTIVATION-1" in message for (message,) in alerts)
    # the cursor keeps the digests of the files still there; a file moved away is forgotten,
    # and landed again it is a known document: no second run
    assert len(json.loads(dispatcher.cursor)["files"]) == 2
    (tmp_path / "unsigned.xml").unlink()
    (tmp_path / "signed.xml").rename(tmp_path / "kept.xml")
    dispatcher.tick()
    assert len(json.loads(dispatcher.cursor)["files"]) == 1
    (tmp_path / "kept.xml").unlink()
    dispatcher.tick()
    assert json.loads(dispatcher.cursor)["files"] == []
    (tmp_path / "again.xml").write_bytes(xml)
    (tmp_path / "again.xml.sig").write_text(sign(load_tso_signing_key(), xml))
    _, runs = dispatcher.tick()
    assert runs == []


def test_the_marts_show_each_activation_and_its_plan(platform, first, dispatcher):
    from assets.dbt_models import dbt_models
    from orchestration.resources import build_resources

    keys = [
        dg.AssetKey([schema, name])
        for schema, name in (
            ("staging", "stg_dispatch__tso_activations"),
            ("staging", "stg_dispatch__dispatch_runs"),
            ("staging", "stg_dispatch__dispatch_setpoints"),
            ("marts", "fct_activations"),
            ("marts", "fct_dispatch_plans"),
        )
    ]
    result = dg.materialize(
        [dbt_models],
        selection=dg.AssetSelection.assets(*keys),
        resources=build_resources(),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success  # contracts and tests included
    item, *_ = first
    rows = _query(
        platform,
        "select revision, response, acknowledged_at is not null, is_latest_revision"
        " from marts.fct_activations where activation_id = %s order by revision",
        (item.mrid,),
    )
    assert rows == [(1, "activated", True, False), (2, "activated", True, True)]
    plans = _query(
        platform,
        "select revision, sum(setpoint_kw) filter (where status = 'accepted')"
        " from marts.fct_dispatch_plans where activation_id = %s group by 1 order by 1",
        (item.mrid,),
    )
    assert plans == [(1, Decimal("1500.000")), (2, Decimal("800.000"))]


def test_the_tick_dispatches_and_the_run_only_records_it(platform, first, activation_feed):
    item, _result, runs = first
    # the dispatch row was written in the tick (no run id), then linked to the run recording it
    [(run_id,)] = _query(
        platform,
        "select run_id from raw.dispatch_runs where activation_id = %s and revision = 1",
        (item.mrid,),
    )
    assert run_id == runs[0].run_id
    materialization = runs[0].asset_materializations_for_node("dispatch_plan")[0]
    assert materialization.metadata["dispatched_in"].value == "the sensor's tick"
    # the TSO heard once: one acknowledgement and one response, not again from the run
    timeline = activation_feed.timeline(item.mrid)["activations"][0]
    assert len(timeline["acknowledgements"]) == 1 and len(timeline["responses"]) == 1


def test_with_the_tick_dispatch_off_or_out_of_budget_the_run_dispatches(
    platform, dispatcher, activation_feed, monkeypatch
):
    from integrations.dispatch import in_tick

    start = ISP + timedelta(hours=3)
    monkeypatch.setenv(in_tick.SWITCH_VARIABLE, "0")
    off = activation_feed.publish_activation(
        pool_id=POOL,
        market="afrr",
        direction="up",
        valid_from=start,
        valid_to=start + timedelta(minutes=15),
        bids=_bid(POOL, "1.000"),
    )
    _, runs = dispatcher.tick()
    assert [r.success for r in runs] == [True]
    materialization = runs[0].asset_materializations_for_node("dispatch_plan")[0]
    assert materialization.metadata["dispatched_in"].value == "this run"
    assert _run_row(platform, off.mrid)["response"] == "activated"
    # out of budget: the tick leaves the activation to its run
    monkeypatch.delenv(in_tick.SWITCH_VARIABLE)
    monkeypatch.setattr(in_tick, "TICK_BUDGET_S", -1.0)
    later = activation_feed.publish_activation(
        pool_id=POOL,
        market="afrr",
        direction="up",
        valid_from=start + timedelta(minutes=15),
        valid_to=start + timedelta(minutes=30),
        bids=_bid(POOL, "1.000"),
    )
    _, runs = dispatcher.tick()
    assert [r.success for r in runs] == [True]
    materialization = runs[0].asset_materializations_for_node("dispatch_plan")[0]
    assert materialization.metadata["dispatched_in"].value == "this run"
    assert _run_row(platform, later.mrid)["response"] == "activated"
