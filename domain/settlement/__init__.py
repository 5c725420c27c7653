"""Settlement: delivery per activation, TSO revenue, prosumer payouts and statements.

Pure arithmetic over plain data (no I/O). Money is ``Decimal`` EUR, exact until stored, then
rounded to the cent (half to even, or by largest remainder where a total is split). The rules,
with a worked example, are in docs/finance.md.
"""

from __future__ import annotations

from domain.settlement.allocation import (
    ActivationParticipation,
    DeviceContribution,
    IspAllocation,
    Membership,
    ProsumerSettlementRow,
    allocate_isp,
    fee_bookings,
    pool_at,
)
from domain.settlement.contracts import (
    Contract,
    ContractTerms,
    MissingContractError,
    contract_terms_at,
    customer_pseudonym,
)
from domain.settlement.delivery import (
    ActivationRequest,
    DeliveryIsp,
    PowerSample,
    deliveries,
    delivery_isp,
)
from domain.settlement.money import allocate_cents, round_cents
from domain.settlement.prices import IspPrices, parse_tennet_settlement_prices
from domain.settlement.statements import (
    ProsumerRevision,
    ProsumerStatement,
    revise_prosumer_month,
    revise_tso_month,
    settlement_month,
)
from domain.settlement.tso import (
    DEFAULT_PENALTY_RULE,
    MissingPriceError,
    PenaltyRule,
    TsoSettlementRow,
    settle_activated_isp,
    settle_imbalance_isp,
)

__all__ = [
    "DEFAULT_PENALTY_RULE",
    "ActivationParticipation",
    "ActivationRequest",
    "Contract",
    "ContractTerms",
    "DeliveryIsp",
    "DeviceContribution",
    "IspAllocation",
    "IspPrices",
    "Membership",
    "MissingContractError",
    "MissingPriceError",
    "PenaltyRule",
    "PowerSample",
    "ProsumerRevision",
    "ProsumerSettlementRow",
    "ProsumerStatement",
    "TsoSettlementRow",
    "allocate_cents",
    "allocate_isp",
    "contract_terms_at",
    "customer_pseudonym",
    "deliveries",
    "delivery_isp",
    "fee_bookings",
    "parse_tennet_settlement_prices",
    "pool_at",
    "revise_prosumer_month",
    "revise_tso_month",
    "round_cents",
    "settle_activated_isp",
    "settle_imbalance_isp",
    "settlement_month",
]
