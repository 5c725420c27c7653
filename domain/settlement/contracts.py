"""Prosumer contracts (what a customer is paid for their devices' flexibility) and pseudonyms.

A contract (``contracts.csv``: customer_id, revenue_share_pct, fee_eur_per_activation,
valid_from, valid_to) applies to an ISP when it is valid at the ISP's start. The finance tables
name customers only by a pseudonym: a keyed hash (HMAC-SHA256 of ``"customer:" + id``), so
finance can follow one customer over months without seeing who it is, and nobody without the
key can go back from the pseudonym to the id by hashing candidate ids. The ``customer:`` prefix
separates these from the device pseudonyms the TSO sees (``"device:" + id``), so one platform
key (``VPPAL_PSEUDONYM_KEY``) can serve both.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

PSEUDONYM_PREFIX = "CP-"
MIN_KEY_BYTES = 32


class MissingContractError(LookupError):
    """No contract of the customer is valid at the moment asked for."""


@dataclass(frozen=True)
class ContractTerms:
    """The money terms of a contract: the prosumer's share of revenue and fee per activation."""

    revenue_share_pct: Decimal
    fee_eur_per_activation: Decimal

    def __post_init__(self) -> None:
        """Refuse terms the registry would refuse too."""
        if not Decimal(0) <= self.revenue_share_pct <= Decimal(100):
            raise ValueError(f"revenue_share_pct {self.revenue_share_pct} is not 0-100")
        if self.fee_eur_per_activation < 0:
            raise ValueError(f"fee_eur_per_activation {self.fee_eur_per_activation} is negative")


@dataclass(frozen=True)
class Contract:
    """One version of a customer's contract, valid over [valid_from, valid_to) (None = open)."""

    customer_id: str
    revenue_share_pct: Decimal
    fee_eur_per_activation: Decimal
    valid_from: datetime
    valid_to: datetime | None = None

    @property
    def terms(self) -> ContractTerms:
        """Return the contract's money terms."""
        return ContractTerms(self.revenue_share_pct, self.fee_eur_per_activation)

    def is_valid_at(self, at: datetime) -> bool:
        """Return whether the contract applies at the instant ``at``."""
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


def contract_terms_at(
    contracts: Iterable[Contract], customer_id: str, at: datetime
) -> ContractTerms:
    """Return the terms of ``customer_id``'s contract valid at ``at``.

    Raises :class:`MissingContractError` when none is valid: a prosumer is never paid under
    terms nobody signed, and never silently paid nothing either.
    """
    valid = [c for c in contracts if c.customer_id == customer_id and c.is_valid_at(at)]
    if not valid:
        raise MissingContractError(f"customer {customer_id} has no contract valid at {at}")
    if len(valid) > 1:
        raise ValueError(f"customer {customer_id} has {len(valid)} contracts valid at {at}")
    return valid[0].terms


def customer_pseudonym(customer_id: str, key: bytes) -> str:
    """Return the stable pseudonym of ``customer_id`` under the secret ``key``."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes")
    if not customer_id:
        raise ValueError("customer_id is empty")
    digest = hmac.new(key, f"customer:{customer_id}".encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:20]
