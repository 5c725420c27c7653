"""Delivery per activation, pool and ISP: requested against delivered energy.

``delivered = Σ (measured - baseline)`` over the activation, against the baseline frozen before
it, turned into the activation's direction once, by :meth:`Direction.along`: for an upward
activation ``baseline - measured`` (less offtake or more injection counts as delivered), for a
downward one ``measured - baseline``. A pool that moved the wrong way has a negative delivered
energy. Per ISP:

* ``requested_kwh`` = requested MW x the part of the ISP the activation covers, each revision's
  MW from its own start (:func:`requested_kwh`);
* ``delivery_ratio`` = delivered / requested (None when nothing was requested);
* ``shortfall_kwh`` = max(0, requested - delivered), never negative; a wrong-way delivery makes
  it larger than the request.

Energies are exact (sums of MW x microseconds in ``Decimal``, which the ``Inexact`` trap keeps
exact) until they are stored, then rounded half to even to 1e-6 kWh; ``delivered_kwh`` is
computed from the rounded measured and baseline energies, so the stored columns agree with each
other exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from fractions import Fraction

from domain.dispatch.direction import Direction
from domain.isp import ISP_MINUTES, floor_to_isp, isps_between
from domain.settlement.money import round_kwh, round_ratio

#: kWh per MW-second: 1 MW for 1 s is 1000/3600 kWh.
_KWH_PER_MW_SECOND = Fraction(1000, 3600)
_KWH_PER_MW_US = _KWH_PER_MW_SECOND / 1_000_000
_ZERO_KWH = Decimal("0.000000")


@dataclass(frozen=True)
class ActivationRequest:
    """An activation of a pool: ``requested_mw`` >= 0 in ``direction`` over [from, to).

    ``revisions`` are the later revisions as (from, MW): each replaces the request from its
    instant on (TenneT revises a running activation; the first revision's request holds until
    the second starts). ``valid_to`` is when the activation ended (a 0 MW revision ends it).
    """

    activation_id: str
    pool_id: str
    direction: Direction
    requested_mw: Decimal
    valid_from: datetime
    valid_to: datetime
    revisions: tuple[tuple[datetime, Decimal], ...] = ()


def requested_kwh(activation: ActivationRequest, start: datetime, end: datetime) -> Fraction:
    """The energy (kWh, exact) the activation asks for within [start, end), revisions included."""
    pieces = [(activation.valid_from, activation.requested_mw), *activation.revisions]
    total = Fraction(0)
    for index, (piece_from, mw) in enumerate(pieces):
        piece_to = pieces[index + 1][0] if index + 1 < len(pieces) else activation.valid_to
        lo, hi = max(piece_from, start), min(piece_to, end, activation.valid_to)
        if hi > lo:
            total += Fraction(mw) * Fraction(_microseconds(hi - lo), 1_000_000) * _KWH_PER_MW_SECOND
    return total


@dataclass(frozen=True)
class PowerSample:
    """The pool's mean measured and frozen-baseline power (MW) over [start, start + duration)."""

    start: datetime
    duration: timedelta
    measured_mw: Decimal
    baseline_mw: Decimal


@dataclass(frozen=True)
class DeliveryIsp:
    """Delivery of one activation in one ISP (``marts.fct_delivery_isp``), energies in kWh.

    ``coverage`` is the share of the activation's time in this ISP that power samples cover
    (1 = complete); ``measured_kwh`` and ``baseline_kwh`` are offtake-positive.
    """

    activation_id: str
    pool_id: str
    isp_start: datetime
    direction: Direction
    requested_kwh: Decimal
    measured_kwh: Decimal
    baseline_kwh: Decimal
    delivered_kwh: Decimal
    delivery_ratio: Decimal | None
    shortfall_kwh: Decimal
    coverage: Decimal


def delivery_isp(
    activation_id: str,
    pool_id: str,
    isp_start: datetime,
    direction: Direction,
    *,
    requested_kwh: Decimal,
    measured_kwh: Decimal,
    baseline_kwh: Decimal,
    coverage: Decimal = Decimal("1.0000"),
) -> DeliveryIsp:
    """Compare requested and delivered energy of one activation in one ISP."""
    if requested_kwh < 0:
        raise ValueError(f"requested_kwh {requested_kwh} must be >= 0 (give the direction apart)")
    requested = round_kwh(requested_kwh)
    measured, baseline = round_kwh(measured_kwh), round_kwh(baseline_kwh)
    delivered = direction.along(measured - baseline)
    ratio = None if requested == 0 else round_ratio(Fraction(delivered) / Fraction(requested))
    return DeliveryIsp(
        activation_id=activation_id,
        pool_id=pool_id,
        isp_start=isp_start,
        direction=direction,
        requested_kwh=requested,
        measured_kwh=measured,
        baseline_kwh=baseline,
        delivered_kwh=delivered,
        delivery_ratio=ratio,
        shortfall_kwh=max(requested - delivered, _ZERO_KWH),
        coverage=coverage,
    )


def _microseconds(span: timedelta) -> int:
    return max(span // timedelta(microseconds=1), 0)


def deliveries(activation: ActivationRequest, samples: Iterable[PowerSample]) -> list[DeliveryIsp]:
    """Return the delivery of ``activation`` per ISP it touches, from the pool's power samples.

    Samples may have any length and cross ISP bounds; each counts for the time it overlaps
    the activation and the ISP. They must not overlap each other. Time without a sample counts
    as nothing measured and nothing delivered, and lowers ``coverage``.
    """
    if activation.valid_to <= activation.valid_from:
        raise ValueError(f"activation {activation.activation_id}: valid_to must be after from")
    if activation.requested_mw < 0 or any(mw < 0 for _, mw in activation.revisions):
        raise ValueError(f"activation {activation.activation_id}: requested_mw must be >= 0")
    if any(not activation.valid_from <= at for at, _ in activation.revisions):
        raise ValueError(f"activation {activation.activation_id}: a revision starts before it")
    isps = isps_between(activation.valid_from, activation.valid_to)
    # MW x microseconds, summed exactly: Decimal products and sums of Decimals are exact as
    # long as the precision holds them, and the Inexact trap makes sure it does
    measured = {isp.start: Decimal(0) for isp in isps}
    baseline = {isp.start: Decimal(0) for isp in isps}
    covered_us = dict.fromkeys(measured, 0)
    previous_end: datetime | None = None
    exact = Context(prec=60, traps=[Inexact, InvalidOperation, Overflow])
    for sample in sorted(samples, key=lambda sample: sample.start):
        sample_end = sample.start + sample.duration
        if previous_end is not None and sample.start < previous_end:
            raise ValueError(f"power samples overlap at {sample.start.isoformat()}")
        previous_end = sample_end
        cursor = max(sample.start, activation.valid_from)
        until = min(sample_end, activation.valid_to)
        while cursor < until:
            isp_start = floor_to_isp(cursor)
            piece_end = min(until, isp_start + timedelta(minutes=ISP_MINUTES))
            us = _microseconds(piece_end - cursor)
            measured[isp_start] = exact.add(
                measured[isp_start], exact.multiply(sample.measured_mw, us)
            )
            baseline[isp_start] = exact.add(
                baseline[isp_start], exact.multiply(sample.baseline_mw, us)
            )
            covered_us[isp_start] += us
            cursor = piece_end
    result = []
    for isp in isps:
        window_us = _microseconds(
            min(isp.end, activation.valid_to) - max(isp.start, activation.valid_from)
        )
        result.append(
            delivery_isp(
                activation.activation_id,
                activation.pool_id,
                isp.start,
                activation.direction,
                requested_kwh=round_kwh(requested_kwh(activation, isp.start, isp.end)),
                measured_kwh=round_kwh(Fraction(measured[isp.start]) * _KWH_PER_MW_US),
                baseline_kwh=round_kwh(Fraction(baseline[isp.start]) * _KWH_PER_MW_US),
                coverage=round_ratio(Fraction(covered_us[isp.start], window_us)),
            )
        )
    return result
