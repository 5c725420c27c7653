"""One local day settled end to end: delivery, TSO rows, prosumer payouts and their versions.

This composes the rules of the other modules over plain inputs (what the wiring reads from the
database for one Europe/Amsterdam day); docs/finance.md explains each choice.

* **Activated pools** (aFRR, mFRR): each activation's delivery per ISP from the pool's power
  samples against its frozen baseline (:func:`deliveries`); an ISP is settled only when every
  activation in it is fully covered by samples, at TenneT's dispatch price of its direction.
  Congestion pools have no price source yet, so their ISPs are skipped with that reason.
* **Imbalance pools**: every ISP in which the pool has members, its deviation from the baseline
  at the dual imbalance prices (:func:`settle_imbalance_isp`).
* **Device contributions**: at ISP resolution, a device's own energy against its own reference
  ("meter before"): for an activated pool the device's energy in the last whole ISP before the
  activation block started (the same blocks, with the recovery margin, that froze the pool's
  baseline); for an imbalance pool its energy in the previous ISP. The contribution is that
  difference in the settled direction; a device without complete energy in either ISP
  contributes 0 (no one is paid for unmeasured energy). Devices are allocated in the pool they
  belong to at the ISP's start (:func:`pool_at`), under their customer's contract valid then.
* **Who takes part**: in an activated pool's ISP only the devices with an accepted setpoint
  (> 0 kW, any revision) in one of the ISP's activations share the revenue; the other members
  get a row with their measured contribution and no share. An activation nobody was dispatched
  for (the dispatch found no flexibility) leaves any revenue to the aggregator.
* **Fees**: per activation whose start ISP is settled in this day, to each device that was a
  member at that ISP, was dispatched in the activation and whose contribution over the whole
  activation is positive.
* **Versions** (:func:`version_day`): the day's recomputed rows against the day's ledger, with
  the difference rules of ``statements.py``; versions are numbered per pool and month (TSO) and
  per prosumer and month (statements), continuing the month's numbering across days. An ISP the
  run has to skip keeps what earlier versions settled (a skip never reverses a payment).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from domain.baselines.issuing import RECOVERY_MARGIN_MIN, activation_blocks
from domain.dispatch.direction import Direction
from domain.isp import ISP_MINUTES, floor_to_isp, isps_between, isps_of_day
from domain.settlement.allocation import (
    ActivationParticipation,
    DeviceContribution,
    IspAllocation,
    Membership,
    ProsumerSettlementRow,
    allocate_isp,
    fee_bookings,
)
from domain.settlement.contracts import Contract, contract_terms_at, customer_pseudonym
from domain.settlement.delivery import ActivationRequest, DeliveryIsp, PowerSample, deliveries
from domain.settlement.money import ZERO_EUR
from domain.settlement.prices import IspPrices
from domain.settlement.statements import (
    ProsumerStatement,
    revise_prosumer_month,
    revise_tso_month,
    settlement_month,
)
from domain.settlement.tso import (
    DEFAULT_PENALTY_RULE,
    IMBALANCE_MARKET,
    MissingPriceError,
    PenaltyRule,
    TsoSettlementRow,
    settle_activated_isp,
    settle_imbalance_isp,
)

ISP = timedelta(minutes=ISP_MINUTES)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COMPLETE = Decimal(1)

#: Markets whose activations are settled at TenneT's dispatch prices.
DISPATCH_PRICED_MARKETS = ("afrr", "mfrr")
CONGESTION_MARKET = "congestion"

#: Why a pool-ISP was not settled.
INCOMPLETE_SAMPLES = "incomplete_samples"
MISSING_PRICE = "missing_price"
NO_PRICE_SOURCE = "no_price_source"


@dataclass(frozen=True)
class DayInputs:
    """Everything one day's settlement reads, as plain data.

    ``activations``: final revisions (``requested_mw`` > 0) of the activations overlapping the
    day, plus earlier ones of the same pools that may start their activation block.
    ``pool_samples``: per pool, measured power with the frozen baseline of the same minute
    (sorted, non-overlapping; only where both are known). ``device_energy_kwh``: complete
    energies per (device, ISP start). ``prices``: per ISP start. ``dispatched``: per activation,
    the devices with an accepted setpoint above 0 kW in any of its revisions.
    """

    local_date: date
    markets: Mapping[str, str]
    activations: Sequence[ActivationRequest]
    revisions: Mapping[str, int]
    pool_samples: Mapping[str, Sequence[PowerSample]]
    device_energy_kwh: Mapping[tuple[str, datetime], Decimal]
    memberships: Sequence[Membership]
    customer_of_device: Mapping[str, str]
    contracts: Sequence[Contract]
    prices: Mapping[datetime, IspPrices]
    dispatched: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class SkippedIsp:
    """A pool-ISP the run could not settle, and why."""

    pool_id: str
    isp_start: datetime
    reason_code: str
    reason: str


@dataclass(frozen=True)
class DaySettlement:
    """One day recomputed: delivery per activation and ISP, allocations, and the skips."""

    local_date: date
    deliveries: tuple[DeliveryIsp, ...]
    allocations: tuple[IspAllocation, ...]
    skipped: tuple[SkippedIsp, ...]

    @property
    def tso_rows(self) -> list[TsoSettlementRow]:
        """The TSO rows, with their margins."""
        return [allocation.settlement for allocation in self.allocations]

    @property
    def prosumer_rows(self) -> list[ProsumerSettlementRow]:
        """Every device's payout row."""
        return [row for allocation in self.allocations for row in allocation.payouts]


@dataclass(frozen=True)
class DayVersions:
    """The rows a settlement run appends: new versions only, numbered per month."""

    tso_rows: tuple[TsoSettlementRow, ...]
    prosumer_rows: tuple[ProsumerSettlementRow, ...]
    statements: tuple[ProsumerStatement, ...]


@dataclass
class _Members:
    """Devices per (pool, ISP start), from the memberships valid at that instant."""

    memberships: Sequence[Membership]
    _cache: dict[datetime, dict[str, list[str]]] = field(default_factory=dict)

    def of(self, pool_id: str, at: datetime) -> list[str]:
        if at not in self._cache:
            pools: dict[str, list[str]] = defaultdict(list)
            for m in self.memberships:
                if m.valid_from <= at and (m.valid_to is None or at < m.valid_to):
                    pools[m.pool_id].append(m.device_id)
            for devices in pools.values():
                if len(set(devices)) != len(devices):
                    raise ValueError(f"a device is twice in one pool at {at.isoformat()}")
            self._cache[at] = {pool: sorted(devices) for pool, devices in pools.items()}
        return self._cache[at].get(pool_id, [])


def day_bounds(local_date: date) -> tuple[datetime, datetime]:
    """Return the UTC start and end of a Europe/Amsterdam day."""
    isps = isps_of_day(local_date)
    return isps[0].start, isps[-1].end


def activation_blocks_by_pool(
    activations: Iterable[ActivationRequest],
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Return each pool's activation blocks ``(start, end)``, as the baseline froze them."""
    by_pool: dict[str, list[ActivationRequest]] = defaultdict(list)
    for activation in activations:
        by_pool[activation.pool_id].append(activation)
    blocks = {}
    for pool_id, pool_activations in by_pool.items():
        merged = activation_blocks(
            [(a.valid_from, a.valid_to) for a in pool_activations], RECOVERY_MARGIN_MIN
        )
        blocks[pool_id] = [
            (_EPOCH + timedelta(minutes=int(s)), _EPOCH + timedelta(minutes=int(e)))
            for s, e in merged
        ]
    return blocks


def reference_isp(blocks: Sequence[tuple[datetime, datetime]], at: datetime) -> datetime:
    """Return the start of the last whole ISP before the block containing ``at``."""
    for start, end in blocks:
        if start <= at < end:
            return floor_to_isp(start) - ISP
    raise ValueError(f"no activation block contains {at.isoformat()}")


def needed_energy_isps(local_date: date, activations: Sequence[ActivationRequest]) -> set[datetime]:
    """Return the ISP starts whose device energies a day's settlement reads.

    The day's ISPs and the one before (imbalance references), the reference ISP of every
    activation block, and every ISP of the activations that start in the day (their fees look
    at the whole activation).
    """
    day_start, day_end = day_bounds(local_date)
    needed = {isp.start for isp in isps_of_day(local_date)} | {day_start - ISP}
    blocks = activation_blocks_by_pool(activations)
    for activation in activations:
        needed.add(reference_isp(blocks[activation.pool_id], activation.valid_from))
        if day_start <= activation.valid_from < day_end:
            span = isps_between(activation.valid_from, activation.valid_to)
            needed |= {isp.start for isp in span}
    return needed


def _samples_overlapping(
    samples: Sequence[PowerSample], starts: Sequence[datetime], start: datetime, end: datetime
) -> Sequence[PowerSample]:
    """The samples of a sorted, non-overlapping sequence that overlap [start, end)."""
    lo = max(bisect_right(starts, start) - 1, 0)
    hi = bisect_left(starts, end)
    return [s for s in samples[lo:hi] if s.start + s.duration > start]


def _along(
    energy: Mapping[tuple[str, datetime], Decimal],
    device_id: str,
    isp_start: datetime,
    reference: datetime,
    direction: Direction,
) -> Decimal:
    """A device's energy in an ISP against its reference, in ``direction``; 0 when unknown."""
    measured = energy.get((device_id, isp_start))
    before = energy.get((device_id, reference))
    if measured is None or before is None:
        return Decimal("0.000000")
    return direction.along(measured - before)


class _Day:
    """The working state of one day's settlement (see :func:`settle_day`)."""

    def __init__(self, inputs: DayInputs, pseudonym_key: bytes, penalty_rule: PenaltyRule) -> None:
        self.inputs = inputs
        self.penalty_rule = penalty_rule
        self.isps = isps_of_day(inputs.local_date)
        self.day_starts = {isp.start for isp in self.isps}
        self.members = _Members(inputs.memberships)
        self.contracts_of = _grouped(inputs.contracts, lambda contract: contract.customer_id)
        self.blocks = activation_blocks_by_pool(inputs.activations)
        self.pseudonyms: dict[str, str] = {}
        self.key = pseudonym_key
        self.deliveries: list[DeliveryIsp] = []
        self.allocations: list[IspAllocation] = []
        self.skipped: list[SkippedIsp] = []

    def pseudonym(self, device_id: str) -> str:
        customer = self.inputs.customer_of_device.get(device_id)
        if customer is None:
            raise ValueError(f"device {device_id} belongs to no registered customer")
        if customer not in self.pseudonyms:
            self.pseudonyms[customer] = customer_pseudonym(customer, self.key)
        return self.pseudonyms[customer]

    def skip(self, pool_id: str, isp_start: datetime, code: str, reason: str) -> None:
        self.skipped.append(SkippedIsp(pool_id, isp_start, code, reason))

    def contributions(
        self,
        pool_id: str,
        isp_start: datetime,
        reference: datetime,
        direction: Direction,
        fees: Counter[tuple[str, datetime]],
        taking_part: frozenset[str] | None = None,
    ) -> list[DeviceContribution]:
        """Every member's contribution; ``taking_part`` None: all members share the revenue."""
        contributions = []
        for device_id in self.members.of(pool_id, isp_start):
            customer = self.inputs.customer_of_device.get(device_id, "")
            contributions.append(
                DeviceContribution(
                    device_id=device_id,
                    customer_pseudonym=self.pseudonym(device_id),
                    contribution_kwh=_along(
                        self.inputs.device_energy_kwh, device_id, isp_start, reference, direction
                    ),
                    terms=contract_terms_at(
                        self.contracts_of.get(customer, []), customer, isp_start
                    ),
                    fees=fees[(device_id, isp_start)],
                    takes_part=taking_part is None or device_id in taking_part,
                )
            )
        return contributions

    def fees(self, pool_id: str, activations: Sequence[ActivationRequest]) -> Counter:
        """Fee bookings of the pool's activations that start in this day."""
        participations = []
        for activation in activations:
            start_isp = floor_to_isp(activation.valid_from)
            if start_isp not in self.day_starts:
                continue
            reference = reference_isp(self.blocks[pool_id], activation.valid_from)
            isps = isps_between(activation.valid_from, activation.valid_to)
            dispatched = self.inputs.dispatched.get(activation.activation_id, frozenset())
            participations.append(
                ActivationParticipation(
                    activation.activation_id,
                    activation.valid_from,
                    {
                        device_id: sum(
                            (
                                _along(
                                    self.inputs.device_energy_kwh,
                                    device_id,
                                    isp.start,
                                    reference,
                                    activation.direction,
                                )
                                for isp in isps
                            ),
                            Decimal(0),
                        )
                        for device_id in self.members.of(pool_id, start_isp)
                        if device_id in dispatched
                    },
                )
            )
        return fee_bookings(participations)

    def settle_activated_pool(
        self, pool_id: str, market: str, activations: Sequence[ActivationRequest]
    ) -> None:
        samples = sorted(self.inputs.pool_samples.get(pool_id, ()), key=lambda s: s.start)
        starts = [s.start for s in samples]
        per_isp: dict[datetime, list[tuple[ActivationRequest, DeliveryIsp]]] = defaultdict(list)
        for activation in activations:
            window = _samples_overlapping(
                samples, starts, activation.valid_from, activation.valid_to
            )
            for delivery in deliveries(activation, window):
                if delivery.isp_start in self.day_starts:
                    per_isp[delivery.isp_start].append((activation, delivery))
                    self.deliveries.append(delivery)
        fees = self.fees(pool_id, activations)
        for isp_start in sorted(per_isp):
            pairs = per_isp[isp_start]
            isp_deliveries = [delivery for _, delivery in pairs]
            if market == CONGESTION_MARKET:
                self.skip(
                    pool_id,
                    isp_start,
                    NO_PRICE_SOURCE,
                    "congestion activations have no price source yet (no GOPACS prices)",
                )
                continue
            if any(d.coverage < _COMPLETE for d in isp_deliveries):
                self.skip(
                    pool_id,
                    isp_start,
                    INCOMPLETE_SAMPLES,
                    "measured power or frozen baseline missing for part of an activation",
                )
                continue
            prices = self.inputs.prices.get(isp_start)
            if prices is None:
                self.skip(pool_id, isp_start, MISSING_PRICE, "no settlement prices for the ISP")
                continue
            try:
                row = settle_activated_isp(
                    pool_id,
                    isp_start,
                    market,
                    isp_deliveries,
                    price_dispatch_up_eur_mwh=prices.price_dispatch_up_eur_mwh,
                    price_dispatch_down_eur_mwh=prices.price_dispatch_down_eur_mwh,
                    price_source=prices.source,
                    penalty_rule=self.penalty_rule,
                )
            except MissingPriceError as problem:
                self.skip(pool_id, isp_start, MISSING_PRICE, str(problem))
                continue
            # the contributions follow the largest request of the ISP (one direction nearly
            # always; with both, the one the most energy was asked for, upward on a tie)
            main, _ = max(
                pairs,
                key=lambda pair: (pair[1].requested_kwh, pair[0].direction is Direction.UP),
            )
            reference = reference_isp(self.blocks[pool_id], max(isp_start, main.valid_from))
            taking_part = frozenset().union(
                *(self.inputs.dispatched.get(a.activation_id, frozenset()) for a, _ in pairs)
            )
            contributions = self.contributions(
                pool_id, isp_start, reference, main.direction, fees, taking_part
            )
            self.allocations.append(allocate_isp(row, contributions))

    def settle_imbalance_pool(self, pool_id: str) -> None:
        samples = sorted(self.inputs.pool_samples.get(pool_id, ()), key=lambda s: s.start)
        starts = [s.start for s in samples]
        no_fees: Counter[tuple[str, datetime]] = Counter()
        for isp in self.isps:
            if not self.members.of(pool_id, isp.start):
                continue
            window = _samples_overlapping(samples, starts, isp.start, isp.end)
            passive = ActivationRequest(
                "imbalance", pool_id, Direction.UP, Decimal(0), isp.start, isp.end
            )
            (position,) = deliveries(passive, window)
            if position.coverage < _COMPLETE:
                self.skip(
                    pool_id,
                    isp.start,
                    INCOMPLETE_SAMPLES,
                    f"measured power and baseline cover {position.coverage} of the ISP",
                )
                continue
            prices = self.inputs.prices.get(isp.start)
            if prices is None:
                self.skip(pool_id, isp.start, MISSING_PRICE, "no settlement prices for the ISP")
                continue
            row = settle_imbalance_isp(
                pool_id,
                isp.start,
                measured_kwh=position.measured_kwh,
                baseline_kwh=position.baseline_kwh,
                price_shortage_eur_mwh=prices.price_shortage_eur_mwh,
                price_surplus_eur_mwh=prices.price_surplus_eur_mwh,
                price_source=prices.source,
            )
            contributions = self.contributions(
                pool_id, isp.start, isp.start - ISP, Direction.UP, no_fees
            )
            self.allocations.append(allocate_isp(row, contributions))


def settle_day(
    inputs: DayInputs,
    pseudonym_key: bytes,
    penalty_rule: PenaltyRule = DEFAULT_PENALTY_RULE,
) -> DaySettlement:
    """Settle one local day from its inputs (no versions yet: see :func:`version_day`)."""
    day = _Day(inputs, pseudonym_key, penalty_rule)
    by_pool: dict[str, list[ActivationRequest]] = defaultdict(list)
    for activation in inputs.activations:
        by_pool[activation.pool_id].append(activation)
    for pool_id in sorted(inputs.markets):
        market = inputs.markets[pool_id]
        if market == IMBALANCE_MARKET:
            day.settle_imbalance_pool(pool_id)
        elif by_pool.get(pool_id):
            if market not in (*DISPATCH_PRICED_MARKETS, CONGESTION_MARKET):
                raise ValueError(f"pool {pool_id} has activations but market {market!r}")
            day.settle_activated_pool(pool_id, market, by_pool[pool_id])
    return DaySettlement(
        local_date=inputs.local_date,
        deliveries=tuple(day.deliveries),
        allocations=tuple(day.allocations),
        skipped=tuple(day.skipped),
    )


def _grouped(rows: Iterable, key: Callable) -> dict:
    groups: dict = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


def version_day(
    settlement: DaySettlement,
    *,
    tso_ledger: Sequence[TsoSettlementRow],
    prosumer_ledger: Sequence[ProsumerSettlementRow],
    pool_versions: Mapping[str, int],
    prosumer_months: Mapping[str, tuple[int, Decimal]],
    created_at: datetime,
) -> DayVersions:
    """Return the new versions of one day's rows against what earlier runs wrote.

    ``tso_ledger`` and ``prosumer_ledger``: every row written so far for ISPs of this day (all
    versions). ``pool_versions``: the latest TSO version per pool in the day's month;
    ``prosumer_months``: the latest statement version and the month's total so far per
    customer pseudonym. Skipped pool-ISPs are left out on both sides: they keep what was
    settled before.
    """
    month = settlement_month(day_bounds(settlement.local_date)[0])
    skipped = {(s.pool_id, s.isp_start) for s in settlement.skipped}

    def kept(row: TsoSettlementRow | ProsumerSettlementRow) -> bool:
        return (row.pool_id, row.isp_start) not in skipped

    tso_rows: list[TsoSettlementRow] = []
    ledger_by_pool = _grouped(filter(kept, tso_ledger), lambda row: row.pool_id)
    new_by_pool = _grouped(filter(kept, settlement.tso_rows), lambda row: row.pool_id)
    for pool_id in sorted(set(ledger_by_pool) | set(new_by_pool)):
        rows = revise_tso_month(
            pool_id, month, ledger_by_pool.get(pool_id, []), new_by_pool.get(pool_id, [])
        )
        version = pool_versions.get(pool_id, 0) + 1
        tso_rows += [replace(row, statement_version=version) for row in rows]

    prosumer_rows: list[ProsumerSettlementRow] = []
    statements: list[ProsumerStatement] = []
    by_customer = _grouped(filter(kept, prosumer_ledger), lambda row: row.customer_pseudonym)
    new_by_customer = _grouped(
        filter(kept, settlement.prosumer_rows), lambda row: row.customer_pseudonym
    )
    for pseudonym in sorted(set(by_customer) | set(new_by_customer)):
        revision = revise_prosumer_month(
            pseudonym,
            month,
            by_customer.get(pseudonym, []),
            new_by_customer.get(pseudonym, []),
            created_at,
        )
        if revision is None:
            continue
        last_version, month_total = prosumer_months.get(pseudonym, (0, ZERO_EUR))
        version = last_version + 1
        statements.append(
            replace(
                revision.statement,
                statement_version=version,
                cumulative_total_eur=month_total + revision.statement.total_eur,
            )
        )
        prosumer_rows += [replace(row, statement_version=version) for row in revision.rows]
    return DayVersions(tuple(tso_rows), tuple(prosumer_rows), tuple(statements))
