"""One dispatch run: acknowledge an activation, split it over the devices, answer the TSO.

1. ``acknowledge``: the activation is stored in ``raw.tso_activations`` and an XSD-valid
   Acknowledgement_MarketDocument goes to the TSO (recorded in ``ops.tso_submissions``).
2. ``dispatch``: the pool's members at the activation's start, their states from the device
   cloud (just before the activation's first revision started, or now if that is earlier),
   their availability over the
   validity (``domain.dispatch.from_states``), excluded sites left out, and the request split
   in merit order of each device's fee per activation per kW, pro rata among equals
   (``domain.dispatch.disaggregate``). Setpoints go to the device cloud; devices that
   refuse get 0 and their share moves to the others (``reallocate``), up to three rounds.
   A revision replaces the earlier plan: devices that held a setpoint in an earlier revision
   and have none now are sent back to their current power.
3. The activation response (activated, partially activated or unavailable with a reason) goes
   to the TSO; the plan and the answer are stored in ``raw.dispatch_runs`` and
   ``raw.dispatch_setpoints``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from domain.cim.activation import Activation, acknowledge_activation
from domain.cim.activation_response import (
    activation_response,
    build_activation_response_document,
)
from domain.dispatch import OPERATING_RANGE, Direction, DispatchPlan, disaggregate, reallocate
from domain.dispatch.disaggregation import FAILED, PLANNED
from domain.dispatch.from_states import availability_from_state
from integrations.device_cloud_client import UNANSWERED, DeviceCloudClient, SetpointRequest
from integrations.flexibility.pool_devices import member_devices
from integrations.flexibility.store import pool_members, site_exclusions
from integrations.tso_client import TsoClient
from integrations.tso_submissions import (
    document_identity,
    next_revision,
    record_document,
    submit,
)
from integrations.validation.store import open_rejection_alert

ACK_KIND = "activation_acknowledgement"
RESPONSE_KIND = "activation_response"
MAX_ROUNDS = 3
_KW_PER_MW = Decimal(1000)


@dataclass(frozen=True)
class DispatchOutcome:
    """What one dispatch run did."""

    plan: DispatchPlan
    failed: tuple[str, ...]
    response: str
    activated_mw: Decimal
    rounds: int


def store_activation(conn: psycopg.Connection, activation: Activation) -> None:
    """Add the activation revision to ``raw.tso_activations`` (once)."""
    conn.execute(
        "insert into raw.tso_activations (activation_id, revision, pool_id, market,"
        " requested_mw, valid_from, valid_to, received_at, direction, document_sha256)"
        " select %s, %s, %s, %s, %s, %s, %s, received_at, %s, document_sha256"
        " from raw.activation_documents where document_mrid = %s and revision = %s"
        " and status = 'accepted' on conflict (activation_id, revision) do nothing",
        (
            activation.mrid,
            activation.revision,
            activation.pool_id,
            activation.market,
            activation.requested_mw,
            activation.valid_from,
            activation.valid_to,
            activation.direction,
            activation.mrid,
            activation.revision,
        ),
    )


def _send(
    conn: psycopg.Connection,
    tso: TsoClient,
    xml: bytes,
    kind: str,
    activation: Activation,
) -> tuple[str, datetime]:
    submission = record_document(
        conn,
        xml,
        document_kind=kind,
        pool_id=activation.pool_id,
        period_start=activation.valid_from,
        period_end=activation.valid_to,
        revision_if_absent=1,
    )
    conn.commit()
    if not submission.acknowledged:
        answer = submit(conn, tso, submission)
        if not answer.accepted:  # the dispatch stands; the operator sees the TSO's reason
            open_rejection_alert(
                conn,
                submission.document_mrid,
                submission.revision,
                kind,
                answer.acknowledgement.reason_text,
            )
            conn.commit()
    return submission.document_mrid, datetime.now(UTC)


@dataclass(frozen=True)
class DispatchSummary:
    """A stored dispatch of one activation revision (``raw.dispatch_runs`` and its setpoints)."""

    requested_kw: Decimal
    dispatched_kw: Decimal
    shortfall_kw: Decimal
    response: str
    devices_with_setpoint: int
    devices_failed: int
    devices_left_out: int
    run_id: str | None


def dispatch_summary(conn: psycopg.Connection, activation: Activation) -> DispatchSummary | None:
    """The finished dispatch of this revision (answered, or ended), or None when there is none."""
    row = conn.execute(
        "select requested_kw, planned_kw, shortfall_kw, response, run_id from raw.dispatch_runs"
        " where activation_id = %s and revision = %s and response is not null",
        (activation.mrid, activation.revision),
    ).fetchone()
    if row is None:
        return None
    [(with_setpoint, failed, left_out)] = conn.execute(
        "select count(*) filter (where status = 'accepted' and setpoint_kw > 0),"
        " count(*) filter (where status = 'failed'), count(*) filter (where status = 'left_out')"
        " from raw.dispatch_setpoints where activation_id = %s and revision = %s",
        (activation.mrid, activation.revision),
    ).fetchall()
    requested, planned, shortfall, response, run_id = row
    return DispatchSummary(
        requested,
        planned or Decimal(0),
        shortfall or Decimal(0),
        response,
        with_setpoint,
        failed,
        left_out,
        run_id,
    )


def record_run(conn: psycopg.Connection, activation: Activation, run_id: str | None) -> None:
    """Link a dispatch done outside a run (in the sensor's tick) to the run recording it."""
    conn.execute(
        "update raw.dispatch_runs set run_id = coalesce(run_id, %s) where activation_id = %s"
        " and revision = %s",
        (run_id, activation.mrid, activation.revision),
    )
    conn.commit()


def acknowledge(conn: psycopg.Connection, tso: TsoClient, activation: Activation) -> datetime:
    """Store the activation and acknowledge it to the TSO (once); returns when that was."""
    store_activation(conn, activation)
    xml = acknowledge_activation(
        activation.mrid,
        activation.revision,
        created_at=datetime.now(UTC).replace(microsecond=0),
        activation=activation,
    )
    mrid, at = _send(conn, tso, xml, ACK_KIND, activation)
    conn.execute(
        "update raw.tso_activations set acknowledged_at = coalesce(acknowledged_at, %s),"
        " acknowledgement_mrid = %s where activation_id = %s and revision = %s",
        (at, mrid, activation.mrid, activation.revision),
    )
    [(first,)] = conn.execute(
        "select acknowledged_at from raw.tso_activations where activation_id = %s"
        " and revision = %s",
        (activation.mrid, activation.revision),
    ).fetchall()
    conn.commit()
    return first


def _running_setpoints(
    conn: psycopg.Connection, activation: Activation, at: datetime
) -> dict[str, Decimal]:
    """Per device, the offtake change (kW) an earlier revision of this activation runs at ``at``.

    Where revisions overlap the device cloud runs the highest, so that one is taken.
    """
    rows = conn.execute(
        "select distinct on (device_id) device_id, setpoint_kw from raw.dispatch_setpoints"
        " where activation_id = %s and revision < %s and status = 'accepted'"
        " and valid_from <= %s and valid_to > %s order by device_id, revision desc",
        (activation.mrid, activation.revision, at, at),
    ).fetchall()
    direction = Direction(activation.direction)
    return {device: direction.offtake_change(setpoint) for device, setpoint in rows}


def _without(state: Any, offtake_change: Decimal | None) -> Any:
    """The state with a running setpoint's offtake change taken out of its power."""
    if not offtake_change:
        return state
    return dataclasses.replace(state, power_kw=state.power_kw - float(offtake_change))


FEES_SQL = """
select devices.device_id, contracts.fee_eur_per_activation
from marts.dim_devices as devices
inner join marts.dim_locations as locations on devices.location_id = locations.location_id
inner join staging.stg_registry__contracts as contracts
    on locations.customer_id = contracts.customer_id
    and contracts.valid_from <= %(at)s
    and (contracts.valid_to is null or %(at)s < contracts.valid_to)
where devices.device_id = any(%(devices)s)
"""


def _fees(conn: psycopg.Connection, device_ids: list[str], at: datetime) -> dict[str, Decimal]:
    """Each device's fee per activation under its customer's contract at ``at`` (0 without)."""
    rows = conn.execute(FEES_SQL, {"at": at, "devices": device_ids}).fetchall()
    return {device_id: fee for device_id, fee in rows}


def _availabilities(
    conn: psycopg.Connection,
    cloud: DeviceCloudClient,
    activation: Activation,
    states_at: datetime,
    running: dict[str, Decimal],
) -> tuple[list[Any], set[str]]:
    members = [
        m for m in pool_members(conn, activation.valid_from) if m.pool_id == activation.pool_id
    ]
    exclusions = site_exclusions(conn, activation.valid_from, activation.valid_to)
    items = {i["device_id"]: i for page in cloud.device_states(states_at) for i in page}
    usable = member_devices(members, items, {})
    states = {
        d.state.device_id: _without(d.state, running.get(d.state.device_id)) for d in usable.devices
    }
    fees = _fees(conn, [m.device_id for m in members], activation.valid_from)
    devices = [
        availability_from_state(
            device_id=m.device_id,
            site_id=m.site_id,
            device_type=m.device_type,
            rated_power_kw=Decimal(str(m.rated_power_kw)),
            controllable=m.controllable,
            strike_price_eur_mwh=m.strike_price_eur_mwh,
            state=states.get(m.device_id),
            valid_from=activation.valid_from,
            valid_to=activation.valid_to,
            fee_eur_per_activation=fees.get(m.device_id, Decimal(0)),
        )
        for m in members
        if m.device_type in OPERATING_RANGE
    ]
    excluded = {
        site
        for site, periods in exclusions.items()
        if any(
            start < activation.valid_to and (end is None or end > activation.valid_from)
            for start, end in periods
        )
    }
    return devices, excluded


def _earlier_devices(conn: psycopg.Connection, activation: Activation) -> set[str]:
    rows = conn.execute(
        "select distinct device_id from raw.dispatch_setpoints where activation_id = %s"
        " and revision < %s and status = 'accepted' and setpoint_kw > 0",
        (activation.mrid, activation.revision),
    ).fetchall()
    return {row[0] for row in rows}


def _setpoint(activation: Activation, device_id: str, target_kw: Decimal) -> SetpointRequest:
    return SetpointRequest(
        device_id=device_id,
        target_kw=target_kw,
        valid_from=activation.valid_from,
        valid_to=activation.valid_to,
        activation_id=activation.mrid,
        revision=activation.revision,
    )


def _requests(plan: DispatchPlan, activation: Activation, also: set[str]) -> list[SetpointRequest]:
    return [
        _setpoint(activation, line.device_id, line.target_kw)
        for line in plan.lines
        if line.status == PLANNED or (line.device_id in also and line.status != FAILED)
    ]


def _releases(
    plan: DispatchPlan, activation: Activation, device_ids: set[str]
) -> list[SetpointRequest]:
    """Requests that send ``device_ids`` back to their own power for this revision."""
    return [
        _setpoint(activation, line.device_id, line.current_kw)
        for line in plan.lines
        if line.device_id in device_ids
    ]


def answer_document(conn: psycopg.Connection, response: Any) -> bytes:
    """The answer's document; a changed answer goes as the next revision of its mRID.

    A run whose answer the TSO never acknowledged (it was down) leaves that revision recorded;
    its rerun re-plans, and an answer that differs must not reuse the recorded revision.
    """
    xml = build_activation_response_document(response)
    revision, _ = next_revision(conn, response.mrid, document_identity(xml)[3])
    if revision == response.revision:
        return xml
    return build_activation_response_document(dataclasses.replace(response, revision=revision))


def dispatch(
    conn: psycopg.Connection,
    tso: TsoClient,
    cloud: DeviceCloudClient,
    activation: Activation,
    now: datetime,
    run_id: str | None,
) -> DispatchOutcome:
    """Steps 2 and 3 for one acknowledged activation revision; commits.

    The device states are read at the start of the activation's first revision (or now, if
    that is earlier), and a revision's devices are planned from their own behaviour: the
    setpoint of the revision it replaces, still running in those states, is taken out of
    their power first.
    """
    [(first_start,)] = conn.execute(
        "select coalesce(min(valid_from), %s) from raw.tso_activations where activation_id = %s",
        (activation.valid_from, activation.mrid),
    ).fetchall()
    states_at = min(now, first_start)
    running = _running_setpoints(conn, activation, states_at)
    devices, excluded = _availabilities(conn, cloud, activation, states_at, running)
    direction = Direction(activation.direction)
    plan = disaggregate(
        activation.requested_mw * _KW_PER_MW,
        devices,
        direction=direction,
        excluded_site_ids=excluded,
    )
    earlier = _earlier_devices(conn, activation)
    failed: set[str] = set()
    reasons: dict[str, str] = {}
    sent_at = datetime.now(UTC)
    to_send = _requests(plan, activation, earlier)
    # devices whose batch got no answer may have taken the setpoint: their share moves on, and
    # they are sent back to their own power, or the pool would deliver their share twice
    unreleased: set[str] = set()
    rounds = 0
    while to_send and rounds < MAX_ROUNDS:
        rounds += 1
        results = cloud.send_setpoints(to_send)
        refused = {r.device_id: r.reason or r.status for r in results if not r.accepted}
        for result in results:
            if result.device_id in unreleased and result.accepted:
                unreleased.discard(result.device_id)
                reasons[result.device_id] += "; sent back to its own power"
        unreleased |= {r.device_id for r in results if r.status == UNANSWERED}
        failed |= set(refused)
        reasons |= {d: why for d, why in refused.items() if d not in reasons}
        to_send = []
        if refused:
            before = plan.setpoints_kw()
            plan = reallocate(plan, failed)
            changed = {
                line.device_id
                for line in plan.lines
                if line.device_id not in failed and line.setpoint_kw != before[line.device_id]
            }
            to_send = [r for r in _requests(plan, activation, earlier) if r.device_id in changed]
        to_send += _releases(plan, activation, unreleased)
    activated_mw = (plan.dispatched_kw / _KW_PER_MW).quantize(Decimal("0.001"))
    _store_plan(conn, activation, plan, failed, reasons, sent_at, run_id)
    if activation.requested_mw == 0:  # the TSO ended it: devices released, nothing to answer
        conn.execute(
            "update raw.dispatch_runs set response = 'ended' where activation_id = %s"
            " and revision = %s",
            (activation.mrid, activation.revision),
        )
        conn.commit()
        return DispatchOutcome(plan, tuple(sorted(failed)), "ended", activated_mw, rounds)
    response = activation_response(
        activation,
        created_at=datetime.now(UTC).replace(microsecond=0),
        activated_mw=min(activated_mw, activation.requested_mw),
        reason_text=None if plan.is_complete else _shortfall_text(plan, failed),
    )
    response_mrid, responded_at = _send(
        conn, tso, answer_document(conn, response), RESPONSE_KIND, activation
    )
    answer = {
        "activated": "activated" if plan.is_complete else "partially_activated",
        "unavailable": "unavailable",
    }[response.status]
    conn.execute(
        "update raw.dispatch_runs set responded_at = %s, response = %s, response_reason = %s,"
        " response_mrid = %s where activation_id = %s and revision = %s",
        (
            responded_at,
            answer,
            response.reason_text,
            response_mrid,
            activation.mrid,
            activation.revision,
        ),
    )
    conn.commit()
    return DispatchOutcome(plan, tuple(sorted(failed)), answer, activated_mw, rounds)


def _shortfall_text(plan: DispatchPlan, failed: set[str]) -> str:
    text = f"{plan.dispatched_kw} of {plan.requested_kw} kW available"
    if failed:
        text += f"; {len(failed)} device(s) refused their setpoint"
    return text


def _store_plan(
    conn: psycopg.Connection,
    activation: Activation,
    plan: DispatchPlan,
    failed: set[str],
    reasons: dict[str, str],
    sent_at: datetime,
    run_id: str | None,
) -> None:
    conn.execute(
        "delete from raw.dispatch_setpoints where activation_id = %s and revision = %s",
        (activation.mrid, activation.revision),
    )
    conn.execute(
        "delete from raw.dispatch_runs where activation_id = %s and revision = %s",
        (activation.mrid, activation.revision),
    )
    conn.execute(
        "insert into raw.dispatch_runs (activation_id, revision, pool_id, direction,"
        " requested_kw, planned_kw, accepted_kw, shortfall_kw, setpoints_sent_at, run_id)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            activation.mrid,
            activation.revision,
            activation.pool_id,
            activation.direction,
            plan.requested_kw,
            plan.dispatched_kw,
            plan.dispatched_kw,
            plan.shortfall_kw,
            sent_at,
            run_id,
        ),
    )
    rows: list[tuple[Any, ...]] = []
    for line in plan.lines:
        status = (
            "failed"
            if line.device_id in failed
            else ("accepted" if line.status == PLANNED else "idle")
        )
        rows.append(
            (
                line.device_id,
                line.site_id,
                line.setpoint_kw if status == "accepted" else Decimal(0),
                line.target_kw,
                status,
                reasons.get(line.device_id),
                sent_at if status in ("accepted", "failed") else None,
            )
        )
    rows += [
        (o.device_id, o.site_id, Decimal(0), None, "left_out", o.reason, None)
        for o in plan.left_out
    ]
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into raw.dispatch_setpoints (activation_id, revision, device_id, pool_id,"
            " site_id, setpoint_kw, target_kw, valid_from, valid_to, status, reason, sent_at)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    activation.mrid,
                    activation.revision,
                    device_id,
                    activation.pool_id,
                    site_id,
                    setpoint,
                    target,
                    activation.valid_from,
                    activation.valid_to,
                    status,
                    reason,
                    at,
                )
                for device_id, site_id, setpoint, target, status, reason, at in rows
            ],
        )


def read_inbox(path: Path) -> Activation:
    """The activation of an accepted inbox document (judged at intake; read again here)."""
    from integrations.cim.activations import read_activation

    return read_activation(path.read_bytes())
