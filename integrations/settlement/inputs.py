"""A local day's settlement inputs from PostgreSQL, and a digest of exactly what is read.

:func:`plan_day` reads the day's activations (small) and decides what else to read: the pool
power and frozen baselines over each activation (activated pools) or the whole day (imbalance
pools), the devices' energies in the ISPs the contributions compare, memberships, owners,
contracts and the prices in force. Every read is one named query; :func:`inputs_digest` hashes
their results server-side (``md5`` of the rows as text, in a fixed order), and
:func:`read_day_inputs` fetches the same queries into ``domain.settlement.day.DayInputs``. The
sensor keys its runs by the digest, and the run records the digest of what it settled, so a
changed input (late measurements, a revised price or activation, a new contract) changes the
key and re-runs the day, while an unchanged day is never settled twice.

Which baseline: the 10-minute-ahead one (``BASELINE_HORIZON_MIN``). Inside an activation
every horizon's baseline is frozen at the activation start, but only the longest horizon uses
one method throughout: its method before the activation is also the one the freeze uses
(``frozen_method``, the method chosen for the longest horizon), so the counterfactual does not
switch method a few minutes into the activation as the 1- and 5-minute series do.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from domain.baselines.issuing import RECOVERY_MARGIN_MIN
from domain.dispatch.direction import Direction
from domain.isp import isps_of_day
from domain.settlement.allocation import Membership
from domain.settlement.contracts import Contract
from domain.settlement.day import DayInputs, day_bounds, needed_energy_isps
from domain.settlement.delivery import ActivationRequest, PowerSample
from domain.settlement.prices import TENNET_SOURCE, IspPrices
from domain.settlement.tso import DEFAULT_PENALTY_RULE, IMBALANCE_MARKET
from integrations.activation_runs import ACTIVATION_RUNS_CTE

BASELINE_HORIZON_MIN = 10
#: How far before the day activations are read, to find where an activation block started.
BLOCK_LOOKBACK = timedelta(days=1)
#: Part of the digest: a change of the rules re-settles the days it touches.
RULES = (
    f"settlement rules v3 (dispatched devices share; revisions settled from their start);"
    f" baseline horizon {BASELINE_HORIZON_MIN} min;"
    f" recovery {RECOVERY_MARGIN_MIN} min; {DEFAULT_PENALTY_RULE}; prices {TENNET_SOURCE}"
)

# Each activation over the whole time it ran: from its first revision's start to its latest
# revision's end (or to the start of a latest revision of 0 MW, which ends it), with every
# revision's start and MW; a revision replaces the request from its start on.
ACTIVATIONS_SQL = f"""{ACTIVATION_RUNS_CTE}
select
    runs.activation_id,
    runs.revision,
    runs.pool_id,
    runs.direction,
    runs.first_from,
    runs.ran_to,
    array_agg(revisions.valid_from order by revisions.revision) as revision_froms,
    array_agg(revisions.requested_mw order by revisions.revision) as revision_mws
from activation_runs as runs
inner join raw.tso_activations as revisions on runs.activation_id = revisions.activation_id
where runs.ran_to > %(lookback)s and runs.first_from < %(day_end)s
group by 1, 2, 3, 4, 5, 6
order by runs.pool_id, runs.first_from, runs.activation_id
"""

# The devices each activation was dispatched to: an accepted setpoint above 0 kW in any revision.
DISPATCHED_SQL = """
select distinct activation_id, device_id
from raw.dispatch_setpoints
where activation_id = any(%(activation_ids)s) and status = 'accepted' and setpoint_kw > 0
order by activation_id, device_id
"""

MARKETS_SQL = "select pool_id, market from marts.dim_pools order by pool_id"

MEMBERSHIPS_SQL = """
select device_id, pool_id, valid_from, valid_to
from marts.fct_device_pool_membership
where valid_from < %(hi)s and (valid_to is null or valid_to > %(lo)s)
order by device_id, valid_from
"""

OWNERS_SQL = f"""
select devices.device_id, locations.customer_id
from marts.dim_devices as devices
inner join marts.dim_locations as locations on devices.location_id = locations.location_id
where devices.device_id in (select device_id from ({MEMBERSHIPS_SQL}) as members)
order by devices.device_id
"""

# The registry has no contract mart yet: staging holds each contract's current version.
CONTRACTS_SQL = f"""
select customer_id, revenue_share_pct, fee_eur_per_activation, valid_from, valid_to
from staging.stg_registry__contracts
where
    customer_id in (select customer_id from ({OWNERS_SQL}) as owners)
    and valid_from < %(hi)s and (valid_to is null or valid_to > %(lo)s)
order by customer_id, valid_from
"""

_WINDOWS = """
unnest(%(window_pools)s::text[], %(window_starts)s::timestamptz[],
    %(window_ends)s::timestamptz[]) as windows (pool_id, window_start, window_end)
"""

POWER_SQL = f"""
select power.pool_id, power.ts, power.resolution_seconds, power.power_mw
from marts.fct_pool_power as power
where
    power.ts >= %(day_start)s and power.ts < %(day_end)s
    and exists (
        select 1 from {_WINDOWS}
        where
            windows.pool_id = power.pool_id
            and power.ts < windows.window_end
            and power.ts + make_interval(secs => power.resolution_seconds) > windows.window_start
    )
order by power.pool_id, power.ts
"""

BASELINES_SQL = f"""
select baselines.pool_id, baselines.target_ts, baselines.baseline_mw
from marts.fct_pool_baselines as baselines
where
    baselines.horizon_min = {BASELINE_HORIZON_MIN}
    and baselines.baseline_mw is not null
    and baselines.target_ts >= %(day_start)s and baselines.target_ts < %(day_end)s
    and exists (
        select 1 from {_WINDOWS}
        where
            windows.pool_id = baselines.pool_id
            and baselines.target_ts < windows.window_end
            and baselines.target_ts + interval '1 minute' > windows.window_start
    )
order by baselines.pool_id, baselines.target_ts
"""

ENERGY_SQL = f"""
select device_id, isp_start, energy_kwh
from marts.fct_device_energy_isp
where
    isp_start = any(%(energy_isps)s::timestamptz[])
    and coverage >= 1
    and device_id in (select device_id from ({MEMBERSHIPS_SQL}) as members)
order by device_id, isp_start
"""

PRICES_SQL = """
select distinct on (isp_start)
    isp_start, local_date, isp_number, price_dispatch_up_eur_mwh, price_dispatch_down_eur_mwh,
    price_shortage_eur_mwh, price_surplus_eur_mwh, regulation_state, incident_reserve_up,
    incident_reserve_down, source
from raw.settlement_prices
where source = %(price_source)s and local_date = %(local_date)s
order by isp_start, file_id desc
"""


@dataclass(frozen=True)
class DayPlan:
    """What one day's settlement reads: the queries and their parameters."""

    local_date: date
    day_start: datetime
    day_end: datetime
    activations: tuple[ActivationRequest, ...]
    revisions: dict[str, int]
    params: dict[str, Any]

    @property
    def queries(self) -> dict[str, str]:
        """Each read by name, in digest order."""
        return {
            "activations": ACTIVATIONS_SQL,
            "dispatched": DISPATCHED_SQL,
            "markets": MARKETS_SQL,
            "memberships": MEMBERSHIPS_SQL,
            "owners": OWNERS_SQL,
            "contracts": CONTRACTS_SQL,
            "power": POWER_SQL,
            "baselines": BASELINES_SQL,
            "energy": ENERGY_SQL,
            "prices": PRICES_SQL,
        }


def plan_day(conn: psycopg.Connection, local_date: date) -> DayPlan:
    """Read the day's activations and the pools' markets; decide every other read."""
    day_start, day_end = day_bounds(local_date)
    rows = conn.execute(
        ACTIVATIONS_SQL, {"lookback": day_start - BLOCK_LOOKBACK, "day_end": day_end}
    ).fetchall()
    activations = tuple(
        ActivationRequest(
            activation_id=activation_id,
            pool_id=pool_id,
            direction=Direction(direction),
            requested_mw=mws[0],
            valid_from=first_from,
            valid_to=ran_to,
            revisions=tuple(
                (start, mw) for start, mw in zip(froms[1:], mws[1:], strict=True) if start < ran_to
            ),
        )
        for activation_id, _revision, pool_id, direction, first_from, ran_to, froms, mws in rows
    )
    revisions = {row[0]: row[1] for row in rows}
    markets = dict(conn.execute(MARKETS_SQL).fetchall())
    windows: list[tuple[str, datetime, datetime]] = [
        (pool_id, day_start, day_end)
        for pool_id, market in sorted(markets.items())
        if market == IMBALANCE_MARKET
    ]
    for activation in activations:
        start, end = max(activation.valid_from, day_start), min(activation.valid_to, day_end)
        if markets.get(activation.pool_id) != IMBALANCE_MARKET and start < end:
            windows.append((activation.pool_id, start, end))
    energy_isps = sorted(needed_energy_isps(local_date, activations))
    params = {
        "lookback": day_start - BLOCK_LOOKBACK,
        "activation_ids": [activation.activation_id for activation in activations],
        "day_start": day_start,
        "day_end": day_end,
        "local_date": local_date,
        "lo": energy_isps[0],
        "hi": energy_isps[-1] + timedelta(minutes=15),
        "window_pools": [w[0] for w in windows],
        "window_starts": [w[1] for w in windows],
        "window_ends": [w[2] for w in windows],
        "energy_isps": energy_isps,
        "price_source": TENNET_SOURCE,
    }
    return DayPlan(local_date, day_start, day_end, activations, revisions, params)


def inputs_digest(conn: psycopg.Connection, plan: DayPlan) -> str:
    """SHA-256 over the rules and every query's rows (md5 of the rows as text, sorted)."""
    # rows are hashed as text: fix the session settings that shape timestamps and dates
    conn.execute("set local timezone to 'UTC'")
    conn.execute("set local datestyle to 'ISO, YMD'")
    digest = hashlib.sha256(RULES.encode())
    digest.update(plan.local_date.isoformat().encode())
    for name, sql in plan.queries.items():
        md5, count = conn.execute(
            "select md5(coalesce(string_agg(q::text, '|' order by q::text), '')), count(*)"
            f" from ({sql}) as q",
            plan.params,
        ).fetchone()
        digest.update(f"|{name}:{count}:{md5}".encode())
    return digest.hexdigest()


def _pool_samples(
    power: list[tuple[Any, ...]], baselines: list[tuple[Any, ...]]
) -> dict[str, list[PowerSample]]:
    """Measured power with the baseline of its minute; samples without a baseline are left out."""
    baseline_of = {(pool_id, target): value for pool_id, target, value in baselines}
    samples: dict[str, list[PowerSample]] = defaultdict(list)
    for pool_id, ts, resolution_seconds, power_mw in power:
        minute = ts.replace(second=0, microsecond=0)
        baseline = baseline_of.get((pool_id, minute))
        if baseline is None or power_mw is None:
            continue
        samples[pool_id].append(
            PowerSample(ts, timedelta(seconds=resolution_seconds), power_mw, baseline)
        )
    return samples


def _prices(rows: list[tuple[Any, ...]]) -> dict[datetime, IspPrices]:
    return {
        row[0]: IspPrices(
            isp_start=row[0],
            local_date=row[1],
            isp_number=row[2],
            price_dispatch_up_eur_mwh=row[3],
            price_dispatch_down_eur_mwh=row[4],
            price_shortage_eur_mwh=row[5],
            price_surplus_eur_mwh=row[6],
            regulation_state=row[7],
            incident_reserve_up=row[8],
            incident_reserve_down=row[9],
            source=row[10],
        )
        for row in rows
    }


def read_day_inputs(conn: psycopg.Connection, plan: DayPlan) -> DayInputs:
    """Fetch the plan's queries into the domain's plain inputs."""

    def fetch(name: str) -> list[tuple[Any, ...]]:
        return conn.execute(plan.queries[name], plan.params).fetchall()

    energy: dict[tuple[str, datetime], Decimal] = {
        (device_id, isp_start): energy_kwh for device_id, isp_start, energy_kwh in fetch("energy")
    }
    dispatched: dict[str, set[str]] = defaultdict(set)
    for activation_id, device_id in fetch("dispatched"):
        dispatched[activation_id].add(device_id)
    return DayInputs(
        local_date=plan.local_date,
        markets=dict(fetch("markets")),
        activations=plan.activations,
        revisions=plan.revisions,
        pool_samples=_pool_samples(fetch("power"), fetch("baselines")),
        device_energy_kwh=energy,
        memberships=[Membership(*row) for row in fetch("memberships")],
        customer_of_device=dict(fetch("owners")),
        contracts=[Contract(*row) for row in fetch("contracts")],
        prices=_prices(fetch("prices")),
        dispatched={key: frozenset(devices) for key, devices in dispatched.items()},
    )


def isp_count(local_date: date) -> int:
    """The number of ISPs of a local day (92, 96 or 100)."""
    return len(isps_of_day(local_date))
