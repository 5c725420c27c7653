"""Dispatch inside the sensor's tick: the time-critical part without a run process to start.

A Dagster run is a new process that imports the whole code location (~5 s here, dbt and GX
included) before its first step; on this machine that launch, not the dispatch (~0.3 s),
decides how fast the TSO hears back. The sensor's evaluation runs in the daemon's code server,
which has the code loaded already, so :func:`dispatch_in_tick` acknowledges, dispatches and
answers each newly accepted activation there, within a time budget per tick. The dispatch run
the sensor requests for the activation (run key = mRID + revision) then finds the dispatch
done and records it as the partition's materialisations; whatever the tick did not finish
(budget spent, an error, ``VPPAL_DISPATCH_IN_TICK=0``), the run does itself. Either way one
dispatch per activation revision: ``raw.dispatch_runs`` holds one row per (mRID, revision),
and a run checks it before dispatching (``dispatch_summary``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from integrations.database.resource import PostgresResource
from integrations.device_cloud_client import DeviceCloudClient
from integrations.dispatch.intake import IntakeResult
from integrations.tso_client import TsoClient

#: ``0`` leaves every dispatch to its run (as before the fast path).
SWITCH_VARIABLE = "VPPAL_DISPATCH_IN_TICK"
#: Seconds of dispatch work per tick; later activations go to their runs (the sensor's
#: evaluation must stay well under Dagster's 60 s sensor timeout).
TICK_BUDGET_S = 10.0

log = logging.getLogger(__name__)


def enabled() -> bool:
    """Whether the sensor dispatches in its tick (``VPPAL_DISPATCH_IN_TICK``, on by default)."""
    return os.environ.get(SWITCH_VARIABLE, "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class TickDispatch:
    """What one tick dispatched itself, and what it left to the runs (with why)."""

    dispatched: tuple[str, ...]
    left: tuple[tuple[str, str], ...]


def dispatch_in_tick(
    results: Iterable[IntakeResult],
    postgres: PostgresResource,
    tso: TsoClient,
    cloud: DeviceCloudClient,
    now: datetime,
    budget_s: float | None = None,
) -> TickDispatch:
    """Acknowledge, dispatch and answer each newly accepted activation, in intake order.

    An error is logged and leaves the activation to its run, which repeats the whole dispatch
    (acknowledgement and answer are recorded per document, so the TSO gets each once).
    ``budget_s`` defaults to :data:`TICK_BUDGET_S`.
    """
    budget = TICK_BUDGET_S if budget_s is None else budget_s
    from integrations.dispatch.run import acknowledge, dispatch, dispatch_summary

    started = time.monotonic()
    dispatched: list[str] = []
    left: list[tuple[str, str]] = []
    for result in results:
        if result.status != "accepted" or result.activation is None or not result.partition_key:
            continue
        key = result.partition_key
        if time.monotonic() - started > budget:
            left.append((key, f"tick budget of {budget:.0f} s spent"))
            continue
        try:
            with postgres.connect() as conn:
                if dispatch_summary(conn, result.activation) is None:
                    acknowledge(conn, tso, result.activation)
                    dispatch(conn, tso, cloud, result.activation, now, None)
            dispatched.append(key)
        except Exception as problem:  # the run dispatches it: never lose the tick
            log.warning(
                "activation %s: dispatch in the tick failed (%s); its run does it", key, problem
            )
            left.append((key, f"{type(problem).__name__}: {problem}"))
    return TickDispatch(tuple(dispatched), tuple(left))
