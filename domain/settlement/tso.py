"""TSO settlement per pool and ISP (``finance.settlement_tso_isp``).

**Activated markets (aFRR, mFRR; congestion alike with its own price).** Per activation in the
ISP the TSO settles the energy delivered in the requested direction, up to the request:
``settled = min(max(delivered, 0), requested)``. Energy beyond the request is not balancing
energy the TSO asked for; it ends up in the BRP's imbalance, not here. The sign follows the
European balancing rules (EB GL art. 45): for **upward** energy the TSO pays the BSP
``settled x price``; for **downward** energy the BSP pays the TSO ``settled x price`` (so a
negative downward price is income). ``gross = Σ ± settled x price / 1000``.

**Under-delivery penalty** (:class:`PenaltyRule`, per activation and ISP): the shortfall beyond
a tolerance of the request is charged at the activation price's absolute value (at least a floor
price) times a factor: ``penalty = max(0, shortfall - tolerance x requested) / 1000 x
max(|price|, floor) x factor``. The default numbers (10 %, x 1.5, floor 0) are this platform's
assumption, to be replaced by the BSP contract's figures.

**Imbalance (passive) pools.** The pool deviates from its baseline on its own, and that
deviation is settled at TenneT's imbalance prices with **dual pricing** taken explicitly:
``delivered = baseline - measured`` over the ISP (upward positive). A pool that delivered
upward made its BRP **long** and receives ``delivered x Price Surplus``; a pool that went
downward made it **short** and pays ``|delivered| x Price Shortage``. In a single-priced ISP the
two prices are equal; in a dual-priced one (regulation state 2) the spread is lost either way.
No request, so no penalty.

**Rounding.** Amounts are exact until the row is built; ``gross_eur`` and ``penalty_eur`` are
rounded once to the cent, half to even, and ``revenue_eur = gross_eur - penalty_eur`` exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from domain.dispatch.direction import Direction
from domain.settlement.delivery import DeliveryIsp
from domain.settlement.money import EUR, round_cents, round_kwh

ACTIVATED_MARKETS = ("afrr", "mfrr", "congestion")
IMBALANCE_MARKET = "imbalance"

#: Which published price a row was settled at.
DISPATCH_UP = "dispatch_up"
DISPATCH_DOWN = "dispatch_down"
SHORTAGE = "shortage"
SURPLUS = "surplus"
MIXED = "mixed"
NONE = "none"

_ZERO_KWH = Decimal("0.000000")


class MissingPriceError(LookupError):
    """A price needed to settle an ISP is not known (yet)."""


@dataclass(frozen=True)
class PenaltyRule:
    """Under-delivery penalty: shortfall beyond ``tolerance_ratio`` x request, x price x factor."""

    tolerance_ratio: Decimal = Decimal("0.10")
    factor: Decimal = Decimal("1.5")
    floor_price_eur_mwh: Decimal = Decimal("0")

    def penalty_eur(self, delivery: DeliveryIsp, price_eur_mwh: Decimal) -> Fraction:
        """Return the exact penalty of one activation in one ISP (>= 0)."""
        allowed = Fraction(self.tolerance_ratio) * Fraction(delivery.requested_kwh)
        penalised_kwh = max(Fraction(delivery.shortfall_kwh) - allowed, Fraction(0))
        price = max(abs(Fraction(price_eur_mwh)), Fraction(self.floor_price_eur_mwh))
        return penalised_kwh / 1000 * price * Fraction(self.factor)


DEFAULT_PENALTY_RULE = PenaltyRule()


@dataclass(frozen=True)
class TsoSettlementRow:
    """What the TSO pays (+) or charges (-) for one pool in one ISP, in EUR.

    ``delivered_kwh`` is in the settled direction(s) (imbalance: upward positive);
    ``price_eur_mwh`` is the price applied and ``price_kind`` which one it is (``mixed`` and
    no single price when one ISP settles both directions). ``aggregator_margin_eur`` is set by
    the prosumer allocation and ``statement_version`` by the ledger.
    """

    pool_id: str
    isp_start: datetime
    market: str
    requested_kwh: Decimal
    delivered_kwh: Decimal
    settled_kwh: Decimal
    price_eur_mwh: Decimal | None
    price_kind: str
    price_source: str
    gross_eur: Decimal
    penalty_eur: Decimal
    revenue_eur: Decimal
    currency: str = EUR
    aggregator_margin_eur: Decimal | None = None
    statement_version: int | None = None


def settled_kwh(delivery: DeliveryIsp) -> Decimal:
    """Return the energy the TSO settles for one activation in one ISP: delivered, capped."""
    return min(max(delivery.delivered_kwh, _ZERO_KWH), delivery.requested_kwh)


def settle_activated_isp(
    pool_id: str,
    isp_start: datetime,
    market: str,
    deliveries: Sequence[DeliveryIsp],
    *,
    price_dispatch_up_eur_mwh: Decimal | None,
    price_dispatch_down_eur_mwh: Decimal | None,
    price_source: str,
    penalty_rule: PenaltyRule = DEFAULT_PENALTY_RULE,
) -> TsoSettlementRow:
    """Settle the activations of one pool in one ISP at the activation prices given.

    Each price is the one for its direction (TenneT's ``Price Dispatch Up`` / ``Down``, or
    the simulator's). A direction with energy to settle but no price raises
    :class:`MissingPriceError`.
    """
    if market not in ACTIVATED_MARKETS:
        raise ValueError(f"market {market!r} is not settled by activation ({ACTIVATED_MARKETS})")
    prices = {Direction.UP: price_dispatch_up_eur_mwh, Direction.DOWN: price_dispatch_down_eur_mwh}
    gross = penalty = Fraction(0)
    requested = delivered = settled = _ZERO_KWH
    directions: set[Direction] = set()
    for delivery in deliveries:
        if (delivery.pool_id, delivery.isp_start) != (pool_id, isp_start):
            raise ValueError(
                f"delivery of {delivery.pool_id} at {delivery.isp_start.isoformat()} given for"
                f" {pool_id} at {isp_start.isoformat()}"
            )
        if delivery.requested_kwh == 0 and delivery.delivered_kwh == 0:
            continue
        price = prices[delivery.direction]
        if price is None:
            raise MissingPriceError(
                f"no {delivery.direction} activation price for {pool_id} at"
                f" {isp_start.isoformat()} (activation {delivery.activation_id})"
            )
        directions.add(delivery.direction)
        energy = settled_kwh(delivery)
        sign = 1 if delivery.direction is Direction.UP else -1
        gross += sign * Fraction(energy) * Fraction(price) / 1000
        penalty += penalty_rule.penalty_eur(delivery, price)
        requested += delivery.requested_kwh
        delivered += delivery.delivered_kwh
        settled += energy
    if len(directions) == 1:
        (direction,) = directions
        price_kind = DISPATCH_UP if direction is Direction.UP else DISPATCH_DOWN
        applied = prices[direction]
    else:
        price_kind, applied = (MIXED if directions else NONE), None
    gross_eur, penalty_eur = round_cents(gross), round_cents(penalty)
    return TsoSettlementRow(
        pool_id=pool_id,
        isp_start=isp_start,
        market=market,
        requested_kwh=requested,
        delivered_kwh=delivered,
        settled_kwh=settled,
        price_eur_mwh=applied,
        price_kind=price_kind,
        price_source=price_source,
        gross_eur=gross_eur,
        penalty_eur=penalty_eur,
        revenue_eur=gross_eur - penalty_eur,
    )


def settle_imbalance_isp(
    pool_id: str,
    isp_start: datetime,
    *,
    measured_kwh: Decimal,
    baseline_kwh: Decimal,
    price_shortage_eur_mwh: Decimal,
    price_surplus_eur_mwh: Decimal,
    price_source: str,
) -> TsoSettlementRow:
    """Settle a passive pool's deviation from its baseline in one ISP at dual imbalance prices.

    ``measured_kwh`` and ``baseline_kwh`` are the pool's offtake-positive energies over the
    ISP. Upward (long) deviation earns the surplus price, downward (short) pays the shortage
    price, as TenneT publishes them (``Price Surplus``, ``Price Shortage``).
    """
    delivered_up = Direction.UP.along(round_kwh(measured_kwh) - round_kwh(baseline_kwh))
    if delivered_up >= 0:
        price, price_kind = price_surplus_eur_mwh, SURPLUS
    else:
        price, price_kind = price_shortage_eur_mwh, SHORTAGE
    gross_eur = round_cents(Fraction(delivered_up) * Fraction(price) / 1000)
    return TsoSettlementRow(
        pool_id=pool_id,
        isp_start=isp_start,
        market=IMBALANCE_MARKET,
        requested_kwh=_ZERO_KWH,
        delivered_kwh=delivered_up,
        settled_kwh=delivered_up,
        price_eur_mwh=price,
        price_kind=price_kind,
        price_source=price_source,
        gross_eur=gross_eur,
        penalty_eur=Decimal("0.00"),
        revenue_eur=gross_eur,
    )
