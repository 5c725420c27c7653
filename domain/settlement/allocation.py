"""Prosumer allocation: a pool's TSO revenue in one ISP, split over its devices and the aggregator.

For pool revenue ``R`` (``revenue_eur``, net of penalties) in one ISP and each device ``i``
with contribution ``c_i`` (kWh in the settled direction, from its measurements), under its
customer's contract (share ``pct_i``, fee ``f_i`` per activation, ``n_i`` activations booked):

* weight ``w_i = max(c_i, 0)`` for a device that takes part (in an activated pool: it had an
  accepted setpoint in one of the ISP's activations; in a passive pool: every member), else 0;
  ``W = Σ w_i``;
* share ``s_i = R x w_i / W x pct_i / 100`` when ``R > 0`` and ``W > 0``, else 0;
* payout (exact) ``p_i = s_i + n_i x f_i``; aggregator margin (exact) ``m = R - Σ p_i``;
* the exact amounts are rounded to the cent by largest remainder with ``R`` as the total, so
  ``Σ payout_eur + aggregator_margin_eur = revenue_eur`` exactly. Ties go to the devices (in
  device-id order) before the aggregator.

Edge cases, by design:

* **Negative or zero revenue** (penalties above the gross, a short imbalance position, downward
  energy at a positive price): prosumers get no share and pay nothing back; the aggregator
  carries the loss. Fees are still paid: they compensate the activation, not the market result.
* **A device that delivered the wrong way** (``c_i < 0``) weighs 0: no share, no claw-back. It
  lowered the pool's delivered energy and so ``R``, which every participant then shares.
* **No positive contribution at all** (``W = 0``): nobody gets a share; any revenue is margin.
* **A device that was not dispatched** weighs 0 in an activated pool, whatever its meter did:
  household noise in the right direction is not flexibility it was asked for.
* **Fees** are booked once per activation and device, in the ISP where the activation starts,
  for devices that had an accepted setpoint in the activation and whose contribution over the
  whole activation is positive (:func:`fee_bookings`). Passive (imbalance) pools have no
  activations, hence no fees.
* **A device that moved pools** is allocated in the pool it belonged to at the ISP's start
  (:func:`pool_at`), the same rule the measurement marts use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from domain.isp import floor_to_isp
from domain.settlement.contracts import ContractTerms
from domain.settlement.money import EUR, allocate_cents, is_whole_cents
from domain.settlement.tso import TsoSettlementRow


@dataclass(frozen=True)
class DeviceContribution:
    """A device's measured contribution to its pool in one ISP, and its customer's terms."""

    device_id: str
    customer_pseudonym: str
    contribution_kwh: Decimal
    terms: ContractTerms
    fees: int = 0
    #: takes part in the allocation (dispatched in an activated pool; every passive member)
    takes_part: bool = True


@dataclass(frozen=True)
class ProsumerSettlementRow:
    """A device's payout for one ISP (``finance.settlement_prosumer_isp``), in EUR."""

    device_id: str
    customer_pseudonym: str
    pool_id: str
    isp_start: datetime
    contribution_kwh: Decimal
    payout_eur: Decimal
    currency: str = EUR
    statement_version: int | None = None


@dataclass(frozen=True)
class IspAllocation:
    """The TSO row with its aggregator margin filled in, and the payouts that go with it."""

    settlement: TsoSettlementRow
    payouts: tuple[ProsumerSettlementRow, ...]


@dataclass(frozen=True)
class Membership:
    """A device's membership of a pool over [valid_from, valid_to) (None = open)."""

    device_id: str
    pool_id: str
    valid_from: datetime
    valid_to: datetime | None = None


@dataclass(frozen=True)
class ActivationParticipation:
    """Each dispatched device's contribution (kWh, in its direction) over a whole activation."""

    activation_id: str
    valid_from: datetime
    contribution_kwh: Mapping[str, Decimal]


def pool_at(memberships: Iterable[Membership], device_id: str, at: datetime) -> str | None:
    """Return the pool ``device_id`` belongs to at ``at`` (None when in none)."""
    pools = {
        m.pool_id
        for m in memberships
        if m.device_id == device_id
        and m.valid_from <= at
        and (m.valid_to is None or at < m.valid_to)
    }
    if len(pools) > 1:
        raise ValueError(f"device {device_id} is in pools {sorted(pools)} at once at {at}")
    return next(iter(pools), None)


def fee_bookings(activations: Iterable[ActivationParticipation]) -> Counter[tuple[str, datetime]]:
    """Count the per-activation fees to book per (device, ISP start).

    A device earns the fee of an activation when its contribution over the whole activation is
    positive; the fee is booked in the ISP where the activation starts. Each activation id
    counts once (give the final revision only).
    """
    bookings: Counter[tuple[str, datetime]] = Counter()
    seen: set[str] = set()
    for activation in activations:
        if activation.activation_id in seen:
            raise ValueError(f"activation {activation.activation_id} given twice")
        seen.add(activation.activation_id)
        isp_start = floor_to_isp(activation.valid_from)
        for device_id, contribution in activation.contribution_kwh.items():
            if contribution > 0:
                bookings[(device_id, isp_start)] += 1
    return bookings


def exact_payouts(
    revenue_eur: Decimal, contributions: Sequence[DeviceContribution]
) -> dict[str, Fraction]:
    """Return each device's exact (unrounded) payout for pool revenue ``revenue_eur``."""
    weights = {
        c.device_id: max(Fraction(c.contribution_kwh), Fraction(0)) if c.takes_part else Fraction(0)
        for c in contributions
    }
    total_weight = sum(weights.values(), Fraction(0))
    revenue = Fraction(revenue_eur)
    payouts = {}
    for c in contributions:
        share = Fraction(0)
        if revenue > 0 and total_weight > 0:
            pct = Fraction(c.terms.revenue_share_pct) / 100
            share = revenue * weights[c.device_id] / total_weight * pct
        payouts[c.device_id] = share + c.fees * Fraction(c.terms.fee_eur_per_activation)
    return payouts


def allocate_isp(
    settlement: TsoSettlementRow, contributions: Sequence[DeviceContribution]
) -> IspAllocation:
    """Split one pool's ISP revenue over its devices and the aggregator, to the cent."""
    if not is_whole_cents(settlement.revenue_eur):
        raise ValueError(f"revenue_eur {settlement.revenue_eur} is not whole cents")
    ids = [c.device_id for c in contributions]
    if len(set(ids)) != len(ids):
        raise ValueError("a device appears twice in one pool and ISP")
    if any(c.fees < 0 for c in contributions):
        raise ValueError("fee counts must be >= 0")
    ordered = sorted(contributions, key=lambda c: c.device_id)
    exact = exact_payouts(settlement.revenue_eur, ordered)
    # the aggregator's key is None and comes last, so equal remainders favour the prosumers
    parties: dict[str | None, Fraction] = {c.device_id: exact[c.device_id] for c in ordered}
    parties[None] = Fraction(settlement.revenue_eur) - sum(exact.values(), Fraction(0))
    rounded = allocate_cents(parties, settlement.revenue_eur)
    payouts = tuple(
        ProsumerSettlementRow(
            device_id=c.device_id,
            customer_pseudonym=c.customer_pseudonym,
            pool_id=settlement.pool_id,
            isp_start=settlement.isp_start,
            contribution_kwh=c.contribution_kwh,
            payout_eur=rounded[c.device_id],
        )
        for c in ordered
    )
    margin = rounded[None]
    return IspAllocation(replace(settlement, aggregator_margin_eur=margin), payouts)
