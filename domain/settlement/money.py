"""Exact amounts: euros as ``Decimal``, rounded once, and largest-remainder splits to the cent.

Rules (docs/finance.md explains them with an example):

* Money is never a float. Inputs are ``Decimal`` (PostgreSQL ``numeric`` arrives as such); the
  intermediate arithmetic is exact (``Fraction`` where a division is involved) and a stored
  amount is rounded **once**, to the cent, **half to even** (banker's rounding: no upward drift
  over many rows).
* A total that is split between parties (a pool's revenue over prosumers and the aggregator) is
  split by **largest remainder**: every exact share is floored to the cent and the cents left
  over go to the largest remainders, so the rounded shares add up to the total exactly.
* Energy is kept to 1e-6 kWh (``numeric(18, 6)``, as the measurement marts), half to even;
  ratios to 1e-4.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

EUR = "EUR"
CENT = Decimal("0.01")
KWH_QUANTUM = Decimal("0.000001")
RATIO_QUANTUM = Decimal("0.0001")
ZERO_EUR = Decimal("0.00")

Key = TypeVar("Key", bound=Hashable)
Exact = Decimal | Fraction | int


def _quantize(value: Exact, quantum: Decimal) -> Decimal:
    units = round(Fraction(value) / Fraction(quantum))  # round() on a Fraction: half to even
    return Decimal(units) * quantum  # exact, and never a negative zero


def round_cents(amount: Exact) -> Decimal:
    """Round an exact amount of euros to the cent, half to even."""
    return _quantize(amount, CENT)


def round_kwh(energy: Exact) -> Decimal:
    """Round an exact energy to 1e-6 kWh, half to even."""
    return _quantize(energy, KWH_QUANTUM)


def round_ratio(ratio: Exact) -> Decimal:
    """Round an exact ratio to 1e-4, half to even."""
    return _quantize(ratio, RATIO_QUANTUM)


def is_whole_cents(amount: Decimal) -> bool:
    """Return whether ``amount`` is a whole number of cents."""
    return amount == amount.quantize(CENT)


def allocate_cents(exact: Mapping[Key, Exact], total: Decimal) -> dict[Key, Decimal]:
    """Round ``exact`` shares to cents by largest remainder so that they add up to ``total``.

    ``total`` must be whole cents and the exact shares must add up to it exactly. Shares may
    be negative (floors go towards minus infinity, remainders are in [0, 1) cent). Ties between
    equal remainders go to the key that comes first in ``exact``; a share that is already whole
    cents never receives a leftover cent.
    """
    if not is_whole_cents(total):
        raise ValueError(f"total {total} is not a whole number of cents")
    cents = {key: Fraction(value) * 100 for key, value in exact.items()}
    if sum(cents.values(), Fraction(0)) != Fraction(total) * 100:
        raise ValueError(f"the exact shares do not add up to the total {total}")
    floors = {key: math.floor(value) for key, value in cents.items()}
    leftover = int(Fraction(total) * 100) - sum(floors.values())
    by_remainder = sorted(
        enumerate(cents), key=lambda item: (-(cents[item[1]] - floors[item[1]]), item[0])
    )
    for _, key in by_remainder[:leftover]:
        floors[key] += 1
    return {key: Decimal(value) * CENT for key, value in floors.items()}
