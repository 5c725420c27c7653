"""Build, record and send one hour's validation documents for every pool."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from domain.cim.measurement_value import (
    KIND_DEVICE_MEASUREMENTS,
    KIND_POOL_BASELINES,
    KIND_POOL_MEASUREMENTS,
    device_measurement_document,
    pool_baseline_document,
    pool_measurement_document,
)
from domain.cim.timing import Period
from domain.measurement_grid import held_grid
from domain.pseudonyms import pseudonym
from integrations.database.resource import PostgresResource
from integrations.secrets import load_pseudonym_key
from integrations.tso_client import TsoClient, TsoUnavailableError
from integrations.tso_submissions import prepare_submission, submit
from integrations.validation.store import (
    baselines_for_targets,
    member_readings,
    open_rejection_alert,
    pool_power,
)


@dataclass
class HourOutcome:
    """What happened to the hour's documents: counts by outcome, and how many got no answer."""

    counts: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0


def _builder(function: Callable[..., bytes], *args: Any, **kwargs: Any) -> Callable[[int], bytes]:
    """``build(revision)`` for ``prepare_submission``: the document with that revision."""
    return lambda revision: function(*args, revision=revision, **kwargs)


def _send(
    conn: psycopg.Connection,
    tso: TsoClient,
    outcome: HourOutcome,
    kind: str,
    pool_id: str,
    period: Period,
    build: Callable[[int], bytes],
) -> None:
    submission = prepare_submission(
        conn,
        document_kind=kind,
        pool_id=pool_id,
        period_start=period.start,
        period_end=period.end,
        build=build,
    )
    if submission.acknowledged:
        conn.commit()
        outcome.counts["already_acknowledged"] += 1
        return
    try:
        answer = submit(conn, tso, submission)
    except TsoUnavailableError:
        outcome.unanswered += 1
        outcome.counts["unanswered"] += 1
        return
    acknowledgement = answer.acknowledgement
    outcome.counts[acknowledgement.status] += 1
    outcome.counts[f"{kind}_{acknowledgement.status}"] += 1
    if not acknowledgement.accepted:
        open_rejection_alert(
            conn, submission.document_mrid, submission.revision, kind, acknowledgement.reason_text
        )
        conn.commit()


def submit_validation_hour(
    postgres: PostgresResource, tso: TsoClient, start: datetime, end: datetime
) -> HourOutcome:
    """Every pool's measurement, baseline and device documents for [start, end), sent.

    A pool with no measured point in the hour sends nothing; its baseline and device
    documents go out when it has baselines or member readings.
    """
    outcome = HourOutcome()
    period = Period(start, end)
    key = load_pseudonym_key()
    created_at = datetime.now(UTC).replace(microsecond=0)
    with postgres.connect() as conn:
        grids = pool_power(conn, start, end)
        baselines = baselines_for_targets(conn, start, end)
        readings = member_readings(conn, start, end)
        conn.commit()
        for pool_id, grid in sorted(grids.items()):
            documents: list[tuple[str, Callable[[int], bytes]]] = []
            if grid.power_mw:
                documents.append(
                    (
                        KIND_POOL_MEASUREMENTS,
                        _builder(
                            pool_measurement_document,
                            pool_id,
                            period,
                            grid.power_mw,
                            created_at=created_at,
                            resolution=grid.step,
                        ),
                    )
                )
            own = baselines[baselines["pool_id"] == pool_id]
            if len(own):
                documents.append(
                    (
                        KIND_POOL_BASELINES,
                        _builder(
                            pool_baseline_document, pool_id, period, own, created_at=created_at
                        ),
                    )
                )
            members = readings[readings["pool_id"] == pool_id]
            if len(members):
                values = held_grid(members, start, end, grid.step)
                by_pseudonym = {
                    pseudonym(key, device_id): column.dropna().to_dict()
                    for device_id, column in values.items()
                }
                documents.append(
                    (
                        KIND_DEVICE_MEASUREMENTS,
                        _builder(
                            device_measurement_document,
                            pool_id,
                            period,
                            by_pseudonym,
                            created_at=created_at,
                            resolution=grid.step,
                        ),
                    )
                )
            for kind, build in documents:
                _send(conn, tso, outcome, kind, pool_id, period, build)
    return outcome
