"""Dispatch while the device cloud is slow or partly down, and while the TSO falters.

The sample registry is built once (registry_job), on simulators of this module's own. Each
test publishes an activation on the TSO simulator's feed, arms faults on the device cloud's
or the TSO's routes, and runs what the daemon would: a tick of ``tso_activation_sensor`` and
``dispatch_job`` for the revision it requests. The sensor's own dispatch in the tick
(``integrations.dispatch.in_tick``) is switched off so the faults meet the run's dispatch,
except in the last test, which meets the tick. The clients have short timeouts and backoff,
so every fault costs little time. Nothing may hang: a run either completes (with the failed
devices' shares moved, or a partial answer, all recorded) or fails with a clear error and
an alert, and its rerun completes.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import dagster as dg
import psycopg
import pytest
from sample_platform import build_sample_registry

from integrations.device_cloud_client import SETPOINTS_PATH, DeviceCloudClient
from integrations.tso_client import DOCUMENTS_PATH, TsoClient
from integrations.tso_submissions import UNANSWERED_ALERT
from simulators.activation_feed import ActivationFeed
from simulators.clock import ReplayClock
from simulators.service import JsonService
from simulators.setpoints import SetpointBook

pytestmark = pytest.mark.slow

POOL = "POOL-AFRR-1"
ISP = datetime(2025, 2, 27, 14, tzinfo=UTC)
STATES_PATH = "/api/v1/device-states"
TIMEOUT_S = 2.0  # the device cloud computes ~540 device states per call
TSO_TIMEOUT_S = 1.0
BATCH = 1  # setpoints per POST: each planned device is a batch of its own
RUN_LIMIT_S = 30.0
IN_TICK = "VPPAL_DISPATCH_IN_TICK"
_slots = itertools.count()


@dataclass
class World:
    """The module's simulators, their feed and setpoint book, and the test database."""

    url: str
    tso: JsonService
    cloud: JsonService
    feed: ActivationFeed
    book: SetpointBook


@pytest.fixture(scope="module")
def world(db_url, tmp_path_factory) -> Iterator[World]:
    """Simulators of this module's own and the sample registry built against them."""
    from integrations.secrets import load_tso_signing_key
    from simulators.serve import start_simulators

    clock = ReplayClock()
    feed = ActivationFeed(clock=clock, signing_key=load_tso_signing_key)
    book = SetpointBook()
    tso, cloud = start_simulators(tso_clock=clock, activations=feed, setpoints=book)
    names = ("VPPAL_TSO_URL", "VPPAL_DEVICE_CLOUD_URL", IN_TICK)
    previous = {name: os.environ.get(name) for name in names}
    os.environ.update(dict(zip(names, (tso.url, cloud.url, "0"), strict=True)))
    try:
        _, result = build_sample_registry(db_url, tmp_path_factory.mktemp("landing"))
        assert result.success
        for service in (tso, cloud):
            service.faults.record = True
        yield World(db_url, tso, cloud, feed, book)
    finally:
        for service in (tso, cloud):
            service.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def calm(world: World) -> Iterator[World]:
    """The world with no fault armed and no failing device, before and after the test."""
    for service in (world.tso, world.cloud):
        service.faults.clear()
    world.book.set_failing(())
    world.book.failure_rate = 0.0
    yield world
    for service in (world.tso, world.cloud):
        service.faults.clear()
    world.book.set_failing(())
    world.book.failure_rate = 0.0


class Daemon:
    """The sensor and the runs it requests on one instance, with fast-failing clients."""

    def __init__(self, world: World) -> None:
        from orchestration.resources import build_resources

        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor: str | None = None
        self.resources = {
            **build_resources(),
            "tso": TsoClient(
                base_url=world.tso.url,
                timeout_s=TSO_TIMEOUT_S,
                document_attempts=3,
                backoff_s=0.05,
                backoff_max_s=0.2,
            ),
            "device_cloud": DeviceCloudClient(
                base_url=world.cloud.url,
                timeout_s=TIMEOUT_S,
                setpoint_batch_size=BATCH,
                setpoint_attempts=3,
                setpoint_backoff_s=0.05,
            ),
        }

    def tick(self) -> list[str]:
        """One sensor evaluation; the partition keys of the runs it requests."""
        from sensors.activations import tso_activation_sensor

        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=self.resources
        )
        result = tso_activation_sensor(context)
        self.cursor = result.cursor
        return [request.partition_key for request in result.run_requests or []]

    def run(self, partition_key: str) -> tuple[dg.ExecuteInProcessResult, float]:
        """``dispatch_job`` for one activation revision; (result, seconds it took)."""
        from orchestration.definitions import defs

        began = time.monotonic()
        result = defs.resolve_job_def("dispatch_job").execute_in_process(
            instance=self.instance,
            partition_key=partition_key,
            resources=self.resources,
            raise_on_error=False,
        )
        return result, time.monotonic() - began


@pytest.fixture(scope="module")
def daemon(world: World) -> Daemon:
    return Daemon(world)


def _publish(world: World, mw: str) -> str:
    """An activation of POOL over a quarter of its own; returns its mRID."""
    from domain.cim.activation import ActivatedBid

    start = ISP + timedelta(minutes=15 * next(_slots))
    item = world.feed.publish_activation(
        pool_id=POOL,
        market="afrr",
        direction="up",
        valid_from=start,
        valid_to=start + timedelta(minutes=15),
        bids=(ActivatedBid(f"B-{POOL}-FAULT", Decimal(mw)),),
    )
    return item.mrid


def _dispatch(
    daemon: Daemon, world: World, mw: str
) -> tuple[str, dg.ExecuteInProcessResult, float]:
    mrid = _publish(world, mw)
    [key] = daemon.tick()
    result, seconds = daemon.run(key)
    assert seconds < RUN_LIMIT_S, f"the run took {seconds:.1f} s"
    return mrid, result, seconds


def _query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _run_row(url: str, mrid: str) -> dict:
    rows = _query(
        url,
        "select requested_kw, planned_kw, shortfall_kw, response, response_reason"
        " from raw.dispatch_runs where activation_id = %s and revision = 1",
        (mrid,),
    )
    if not rows:
        return {}
    names = ("requested", "planned", "shortfall", "response", "reason")
    return dict(zip(names, rows[0], strict=True))


def _setpoints(url: str, mrid: str) -> dict[str, tuple]:
    rows = _query(
        url,
        "select device_id, setpoint_kw, status, reason from raw.dispatch_setpoints"
        " where activation_id = %s and revision = 1",
        (mrid,),
    )
    return {row[0]: row[1:] for row in rows}


def _answer_acknowledgement(url: str, mrid: str) -> str | None:
    """How the TSO acknowledged the run's answer (None: not acknowledged, or no answer)."""
    rows = _query(
        url,
        "select s.ack_status from raw.dispatch_runs r join ops.tso_submissions s"
        " on s.document_mrid = r.response_mrid where r.activation_id = %s and r.revision = 1",
        (mrid,),
    )
    return rows[0][0] if rows else None


def _book_entries(world: World, mrid: str) -> list:
    return [s for s in world.book.listing() if s["activation_id"] == mrid]


def _failure_text(result: dg.ExecuteInProcessResult) -> str:
    texts = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None:
            texts.append(error.message)
            error = error.cause
    return "\n".join(texts)


def test_a_setpoint_batch_answered_too_late_is_sent_again_and_held_once(calm, daemon):
    world = calm
    world.cloud.faults.delay("POST", SETPOINTS_PATH, seconds=TIMEOUT_S + 0.5, times=1)
    mrid, result, _ = _dispatch(daemon, world, "0.300")
    assert result.success
    setpoints = _setpoints(world.url, mrid)
    accepted = {d for d, (_, status, _) in setpoints.items() if status == "accepted"}
    assert accepted and not [s for s in setpoints.values() if s[1] == "failed"]
    posts = world.cloud.faults.seen("POST", SETPOINTS_PATH)
    assert posts[0].fault == "delay" and posts[1].body == posts[0].body  # the same batch again
    held = _book_entries(world, mrid)
    assert sorted(s["device_id"] for s in held) == sorted(accepted)  # each device once
    assert _run_row(world.url, mrid)["response"] == "activated"


def test_a_batch_the_device_cloud_never_answers_is_moved_to_the_others_and_recorded(calm, daemon):
    world = calm
    world.cloud.faults.let_through("POST", SETPOINTS_PATH, times=1)
    world.cloud.faults.fail("POST", SETPOINTS_PATH, status=503, times=3)  # every attempt
    mrid, result, _ = _dispatch(daemon, world, "0.300")
    assert result.success, _failure_text(result)
    setpoints = _setpoints(world.url, mrid)
    failed = {d: reason for d, (_, status, reason) in setpoints.items() if status == "failed"}
    assert 0 < len(failed) <= BATCH
    assert all("no answer from the device cloud" in reason for reason in failed.values())
    assert all(setpoints[d][0] == 0 for d in failed)
    run = _run_row(world.url, mrid)
    accepted = sum(s[0] for s in setpoints.values() if s[1] == "accepted")
    assert accepted == run["planned"]  # what the answer claims is what the devices took
    assert run["response"] in ("activated", "partially_activated")
    # the cloud never got the setpoint; the release that followed holds it at its own power
    own = dict(
        _query(
            world.url,
            "select device_id, target_kw from raw.dispatch_setpoints where activation_id = %s",
            (mrid,),
        )
    )
    for held in _book_entries(world, mrid):
        if held["device_id"] in failed:
            assert Decimal(str(held["target_kw"])) == own[held["device_id"]]
    assert _answer_acknowledgement(world.url, mrid) == "accepted"


def test_a_batch_taken_without_an_answer_is_moved_and_the_device_sent_back(calm, daemon):
    world = calm
    # the device cloud takes the first batch every time but answers too late each time
    world.cloud.faults.delay("POST", SETPOINTS_PATH, seconds=TIMEOUT_S + 0.5, times=3)
    mrid, result, _ = _dispatch(daemon, world, "0.300")
    assert result.success, _failure_text(result)
    setpoints = _setpoints(world.url, mrid)
    [(device, (setpoint, _, reason))] = [(d, s) for d, s in setpoints.items() if s[1] == "failed"]
    assert setpoint == 0 and "no answer" in reason and "sent back to its own power" in reason
    # the cloud holds the device at its own power, not at the setpoint it took silently
    [(current,)] = _query(
        world.url,
        "select target_kw from raw.dispatch_setpoints where activation_id = %s and device_id = %s",
        (mrid, device),
    )
    [held] = [s for s in _book_entries(world, mrid) if s["device_id"] == device]
    assert Decimal(str(held["target_kw"])) == current
    accepted = sum(s[0] for s in setpoints.values() if s[1] == "accepted")
    assert accepted == _run_row(world.url, mrid)["planned"]


def test_half_the_fleet_refusing_is_reallocated_within_three_rounds_and_answered(calm, daemon):
    world = calm
    world.book.failure_rate = 0.5
    mrid, result, _ = _dispatch(daemon, world, "0.300")
    assert result.success
    setpoints = _setpoints(world.url, mrid)
    failed = [d for d, (_, status, _) in setpoints.items() if status == "failed"]
    assert failed and all("simulated_failure" in setpoints[d][2] for d in failed)
    run = _run_row(world.url, mrid)
    accepted = sum(s[0] for s in setpoints.values() if s[1] == "accepted")
    assert accepted == run["planned"]
    assert run["planned"] + run["shortfall"] == run["requested"]
    assert run["response"] in ("activated", "partially_activated")
    assert _answer_acknowledgement(world.url, mrid) == "accepted"


def test_device_states_answered_too_late_are_asked_again(calm, daemon):
    world = calm
    world.cloud.faults.delay("GET", STATES_PATH, seconds=TIMEOUT_S + 0.5, times=1)
    mrid, result, _ = _dispatch(daemon, world, "0.200")
    assert result.success
    assert [s.fault for s in world.cloud.faults.seen("GET", STATES_PATH)][:2] == ["delay", None]
    assert _run_row(world.url, mrid)["response"] == "activated"


def test_a_device_cloud_down_for_the_states_fails_the_run_fast_and_clearly(calm, daemon):
    world = calm
    world.cloud.faults.fail("GET", STATES_PATH, status=503, times=None)
    mrid, result, _ = _dispatch(daemon, world, "0.200")
    assert not result.success
    text = _failure_text(result)
    assert "503" in text and STATES_PATH in text
    acknowledged = _query(
        world.url,
        "select acknowledged_at from raw.tso_activations where activation_id = %s",
        (mrid,),
    )
    assert acknowledged and acknowledged[0][0] is not None  # the TSO knows it was received
    assert _run_row(world.url, mrid) == {}  # no plan, no answer claimed


def test_a_tso_failing_twice_on_the_acknowledgement_is_retried_within_the_run(calm, daemon):
    world = calm
    world.tso.faults.fail("POST", DOCUMENTS_PATH, status=500, times=2)
    mrid, result, _ = _dispatch(daemon, world, "0.200")
    assert result.success
    attempts = _query(
        world.url,
        "select document_kind, attempts, ack_status from ops.tso_submissions s"
        " join raw.tso_activations a on a.acknowledgement_mrid = s.document_mrid"
        " where a.activation_id = %s",
        (mrid,),
    )
    assert attempts == [("activation_acknowledgement", 3, "accepted")]
    assert _run_row(world.url, mrid)["response"] == "activated"


def test_a_tso_down_for_the_answer_alerts_and_the_rerun_answers_once(calm, daemon):
    world = calm
    world.tso.faults.let_through("POST", DOCUMENTS_PATH, times=1)  # the acknowledgement
    world.tso.faults.fail("POST", DOCUMENTS_PATH, status=503, times=None)
    mrid, result, _ = _dispatch(daemon, world, "0.200")
    assert not result.success
    assert "no acknowledgement" in _failure_text(result)
    [(response_mrid, attempts, ack)] = _query(
        world.url,
        "select document_mrid, attempts, ack_status from ops.tso_submissions"
        " where document_kind = 'activation_response' and period_start = %s",
        (_run_start(world.url, mrid),),
    )
    assert attempts == 3 and ack is None
    alert = _query(
        world.url,
        "select closed_at from ops.alerts where alert_type = %s and entity_id = %s",
        (UNANSWERED_ALERT, response_mrid),
    )
    assert alert == [(None,)]

    world.tso.faults.disarm()  # the TSO is back: Dagster's run retry re-executes the partition
    [key] = [k for k in daemon.instance.get_dynamic_partitions("activations") if mrid in k]
    rerun, _ = daemon.run(key)
    assert rerun.success
    assert _run_row(world.url, mrid)["response"] == "activated"
    [(closed_at,)] = _query(
        world.url,
        "select closed_at from ops.alerts where alert_type = %s and entity_id = %s",
        (UNANSWERED_ALERT, response_mrid),
    )
    assert closed_at is not None
    bodies = {
        seen.body for seen in world.tso.faults.seen("POST", DOCUMENTS_PATH)
        if response_mrid.encode() in seen.body
    }  # fmt: skip
    assert len(bodies) == 1  # every post of the answer carried the very same bytes


def _run_start(url: str, mrid: str) -> datetime:
    [(start,)] = _query(
        url, "select valid_from from raw.tso_activations where activation_id = %s", (mrid,)
    )
    return start


def test_a_tick_that_cannot_dispatch_leaves_it_to_the_run_and_the_tso_hears_once(
    calm, daemon, monkeypatch
):
    world = calm
    monkeypatch.setenv(IN_TICK, "1")
    world.cloud.faults.fail("GET", STATES_PATH, status=503, times=4)  # the tick's 1 + 3 tries
    mrid = _publish(world, "0.200")
    [key] = daemon.tick()
    assert _run_row(world.url, mrid) == {}  # the tick acknowledged, then found no states
    result, seconds = daemon.run(key)
    assert result.success and seconds < RUN_LIMIT_S
    assert _run_row(world.url, mrid)["response"] == "activated"
    by_mrid: dict[bytes, int] = {}
    for seen in world.tso.faults.seen("POST", DOCUMENTS_PATH):
        if mrid.encode() in seen.body:
            by_mrid[seen.body] = by_mrid.get(seen.body, 0) + 1
    # one acknowledgement and one answer, each posted once although two places dispatched
    assert sorted(by_mrid.values()) == [1, 1]
