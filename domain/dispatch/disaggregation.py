"""Split a pool's requested regulation power over its devices, and move failed shares on.

**Allocation order: the cheapest devices first, pro rata among equals.** Dispatching a device
costs the aggregator its customer's fee per activation (``fee_eur_per_activation``, paid to
every dispatched device that delivers, see ``domain.settlement``), whatever part of the request
it takes. Devices are therefore filled in merit order of that cost per kW of headroom (fee ÷
headroom), and every device of one cost level gets the same fraction of its headroom: devices
without a fee (cost 0) form one level and share the request pro rata, a fee-paying device is
asked only for what the cheaper levels cannot hold. The setpoints add up to the request when the
pool can deliver it, or to the pool's whole headroom with the rest reported as the shortfall.
Among equals pro rata, not a merit order within the level: it keeps every device's share small,
so comfort impact and wear are spread and delivery does not hang on one device. (Before fees
were taken into account the split was pro rata over all devices, which dispatched every
household for a slice of each activation and paid ~30 fees for what one battery could deliver.)
The strike price is a filter, not a cost: given the activation price, a device whose owner asks
more than the pool receives in that direction is left out.

**Units: kW as ``Decimal`` with 3 decimals (1 W), integer watts inside.** Setpoints could be
floats, but then "the setpoints add up to the request" only holds within a tolerance and the
shortfall is not exactly the unmet part. Working in whole watts (the device clouds' own unit)
makes every sum exact: headroom is floored to the watt (never promise more than a device has),
the request is rounded half-even to the watt, and pro rata shares are floored with the leftover
watts handed out by largest remainder (ties by device id), which never exceeds a headroom.

Eligibility, in this order (the first reason that applies is reported):
``excluded_site`` (the site breaks the exclusivity rule), ``not_controllable``,
``strike_above_price``, ``no_headroom`` (less than 1 W in the requested direction).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from domain.dispatch.availability import DeviceAvailability
from domain.dispatch.direction import Direction

PLANNED = "planned"
IDLE = "idle"
FAILED = "failed"

EXCLUDED_SITE = "excluded_site"
NOT_CONTROLLABLE = "not_controllable"
STRIKE_ABOVE_PRICE = "strike_above_price"
NO_HEADROOM = "no_headroom"

_WATTS_PER_KW = 1000


@dataclass(frozen=True)
class PlanLine:
    """One device's part of a plan: ``setpoint_kw`` >= 0 in the plan's direction.

    ``target_kw`` is the power (offtake positive) the device is asked to run at:
    ``current_kw`` moved by the setpoint in the plan's direction.
    """

    device_id: str
    site_id: str
    current_kw: Decimal
    headroom_kw: Decimal
    setpoint_kw: Decimal
    target_kw: Decimal
    status: str
    fee_eur_per_activation: Decimal = Decimal(0)


@dataclass(frozen=True)
class LeftOut:
    """A device of the pool that takes no part, and why."""

    device_id: str
    site_id: str
    reason: str


@dataclass(frozen=True)
class DispatchPlan:
    """Setpoints for one request: the lines add up to ``requested_kw - shortfall_kw``."""

    direction: Direction
    requested_kw: Decimal
    lines: tuple[PlanLine, ...]
    left_out: tuple[LeftOut, ...]

    @property
    def dispatched_kw(self) -> Decimal:
        """Return the sum of the setpoints."""
        return sum((line.setpoint_kw for line in self.lines), Decimal("0.000"))

    @property
    def shortfall_kw(self) -> Decimal:
        """Return the part of the request no device could take (>= 0)."""
        return self.requested_kw - self.dispatched_kw

    @property
    def is_complete(self) -> bool:
        """Return whether the setpoints add up to the whole request."""
        return self.shortfall_kw == 0

    def setpoints_kw(self) -> dict[str, Decimal]:
        """Return the setpoint per device id, failed devices included (at 0)."""
        return {line.device_id: line.setpoint_kw for line in self.lines}


def _to_watts(kw: Decimal, rounding: str) -> int:
    return int((kw * _WATTS_PER_KW).to_integral_value(rounding=rounding))


def _to_kw(watts: int) -> Decimal:
    return Decimal(watts).scaleb(-3)


def pro_rata_watts(amount_w: int, capacities_w: Sequence[tuple[str, int]]) -> list[int]:
    """Split ``amount_w`` over ``capacities_w`` ((key, capacity >= 0) pairs) pro rata.

    Each share is floored; the watts left over go one each to the largest remainders (ties by
    key), so the shares add up to ``min(amount_w, total capacity)`` and none exceeds its capacity.
    """
    if amount_w < 0 or any(capacity < 0 for _, capacity in capacities_w):
        raise ValueError("amount and capacities must be non-negative")
    total = sum(capacity for _, capacity in capacities_w)
    if amount_w >= total:
        return [capacity for _, capacity in capacities_w]
    shares: list[int] = []
    remainders: list[tuple[int, str, int]] = []
    for index, (key, capacity) in enumerate(capacities_w):
        share, remainder = divmod(amount_w * capacity, total)
        shares.append(share)
        remainders.append((-remainder, key, index))
    leftover = amount_w - sum(shares)
    for _, _, index in sorted(remainders)[:leftover]:
        shares[index] += 1
    return shares


def merit_order_watts(amount_w: int, candidates: Sequence[tuple[str, int, Fraction]]) -> list[int]:
    """Split ``amount_w`` over ``candidates`` ((key, capacity >= 0, cost) triples) in cost order.

    The cheapest cost level is filled first, pro rata of capacity within the level
    (:func:`pro_rata_watts`), then the next; the shares add up to ``min(amount_w, total
    capacity)`` and none exceeds its capacity.
    """
    shares = [0] * len(candidates)
    remaining = amount_w
    for cost in sorted({cost for _, _, cost in candidates}):
        level = [i for i, (_, _, c) in enumerate(candidates) if c == cost]
        capacities = [(candidates[i][0], candidates[i][1]) for i in level]
        take = min(remaining, sum(capacity for _, capacity in capacities))
        for index, share in zip(level, pro_rata_watts(take, capacities), strict=True):
            shares[index] = share
        remaining -= take
    return shares


def _cost_per_w(fee: Decimal, headroom_w: int) -> Fraction:
    """What a device costs per watt it can take: its fee spread over its headroom."""
    return Fraction(fee) / headroom_w if headroom_w > 0 else Fraction(0)


def _line(
    device: DeviceAvailability, direction: Direction, headroom_w: int, setpoint_w: int
) -> PlanLine:
    setpoint = _to_kw(setpoint_w)
    return PlanLine(
        device_id=device.device_id,
        site_id=device.site_id,
        current_kw=device.current_kw,
        headroom_kw=_to_kw(headroom_w),
        setpoint_kw=setpoint,
        target_kw=device.current_kw + direction.offtake_change(setpoint),
        status=PLANNED if setpoint_w > 0 else IDLE,
        fee_eur_per_activation=device.fee_eur_per_activation,
    )


def _left_out_reason(
    device: DeviceAvailability,
    direction: Direction,
    headroom_w: int,
    excluded_site_ids: Collection[str],
    received_price: Decimal | None,
) -> str | None:
    if device.site_id in excluded_site_ids:
        return EXCLUDED_SITE
    if not device.controllable:
        return NOT_CONTROLLABLE
    strike = device.strike_price_eur_mwh
    if received_price is not None and strike is not None and strike > received_price:
        return STRIKE_ABOVE_PRICE
    if headroom_w <= 0:
        return NO_HEADROOM
    return None


def disaggregate(
    request_kw: Decimal,
    devices: Iterable[DeviceAvailability],
    *,
    direction: Direction,
    excluded_site_ids: Collection[str] = frozenset(),
    activation_price_eur_mwh: Decimal | None = None,
) -> DispatchPlan:
    """Split ``request_kw`` (>= 0, in ``direction``) over the eligible devices, cheapest first.

    ``activation_price_eur_mwh`` (optional) filters on strike prices: the pool receives the
    price for upward and pays it for downward regulation (EB GL), so a device is left out when
    its strike is above ``price`` (up) or above ``-price`` (down). Without a price no device is
    left out for its strike.
    """
    request_w = _to_watts(Decimal(request_kw), ROUND_HALF_EVEN)
    if request_w < 0:
        raise ValueError(f"request_kw {request_kw} must be >= 0 (give the direction apart)")
    received_price = None
    if activation_price_eur_mwh is not None:
        price = Decimal(activation_price_eur_mwh)
        received_price = price if direction is Direction.UP else -price
    eligible: list[tuple[DeviceAvailability, int]] = []
    left_out: list[LeftOut] = []
    seen: set[str] = set()
    for device in devices:
        if device.device_id in seen:
            raise ValueError(f"device {device.device_id} appears twice")
        seen.add(device.device_id)
        headroom_w = max(_to_watts(device.headroom_kw(direction), ROUND_FLOOR), 0)
        reason = _left_out_reason(device, direction, headroom_w, excluded_site_ids, received_price)
        if reason is None:
            eligible.append((device, headroom_w))
        else:
            left_out.append(LeftOut(device.device_id, device.site_id, reason))
    shares = merit_order_watts(
        request_w,
        [(d.device_id, h, _cost_per_w(d.fee_eur_per_activation, h)) for d, h in eligible],
    )
    lines = tuple(
        _line(device, direction, headroom_w, share)
        for (device, headroom_w), share in zip(eligible, shares, strict=True)
    )
    return DispatchPlan(direction, _to_kw(request_w), lines, tuple(left_out))


def reallocate(plan: DispatchPlan, failed_device_ids: Collection[str]) -> DispatchPlan:
    """Set the devices that failed to accept to 0 and move the gap to the others.

    Failed devices stay failed in later reallocations. The gap (the request minus what the
    remaining devices hold) goes first to the devices already dispatched (their fee is due
    anyway: cost 0), pro rata of their unused headroom, then to idle devices in merit order; the
    sum is kept when that headroom allows, otherwise the shortfall grows by exactly the part
    that found no device.
    """
    known = {line.device_id for line in plan.lines}
    unknown = sorted(set(failed_device_ids) - known)
    if unknown:
        raise ValueError(f"devices {', '.join(unknown)} are not in the plan")
    failed = set(failed_device_ids)
    kept: list[PlanLine] = []
    for line in plan.lines:
        if line.device_id in failed or line.status == FAILED:
            kept.append(
                replace(
                    line, setpoint_kw=Decimal("0.000"), target_kw=line.current_kw, status=FAILED
                )
            )
        else:
            kept.append(line)
    requested_w = _to_watts(plan.requested_kw, ROUND_HALF_EVEN)
    holding_w = [_to_watts(line.setpoint_kw, ROUND_HALF_EVEN) for line in kept]
    spare = [
        (
            line.device_id,
            0 if line.status == FAILED else _to_watts(line.headroom_kw, ROUND_FLOOR) - held,
            Fraction(0)
            if held > 0
            else _cost_per_w(line.fee_eur_per_activation, _to_watts(line.headroom_kw, ROUND_FLOOR)),
        )
        for line, held in zip(kept, holding_w, strict=True)
    ]
    extra = merit_order_watts(max(requested_w - sum(holding_w), 0), spare)
    lines = []
    for line, held, more in zip(kept, holding_w, extra, strict=True):
        if line.status == FAILED:
            lines.append(line)
            continue
        setpoint = _to_kw(held + more)
        lines.append(
            replace(
                line,
                setpoint_kw=setpoint,
                target_kw=line.current_kw + plan.direction.offtake_change(setpoint),
                status=PLANNED if held + more > 0 else IDLE,
            )
        )
    return replace(plan, lines=tuple(lines))
