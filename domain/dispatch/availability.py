"""What a device can do right now: its operating range and its headroom in each direction.

A device's power stays inside an operating range set by its type and rated power (offtake
positive): consumers (heat pump, EV charger, ``other``) run between 0 and +rated, a PV inverter
between -rated and 0, a battery between -rated and +rated. From its current power, the range
gives the most it can move up (down to the range's minimum) or down (up to its maximum). The
device cloud may report a tighter availability (an EV that must be charged by 07:00, a heat pump
in a comfort band): the headroom is the smaller of the two, never negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.dispatch.direction import Direction

#: Operating range per device type, as multiples of the rated power: (minimum, maximum) kW.
OPERATING_RANGE: dict[str, tuple[int, int]] = {
    "battery": (-1, 1),
    "ev_charger": (0, 1),
    "heat_pump": (0, 1),
    "other": (0, 1),
    "pv_inverter": (-1, 0),
}

_ZERO = Decimal(0)


@dataclass(frozen=True)
class DeviceAvailability:
    """One device as dispatch sees it at the activation's start (kW, offtake positive).

    ``available_up_kw`` / ``available_down_kw`` are the device cloud's reported flexibility;
    ``None`` means no limit beyond the operating range.
    """

    device_id: str
    site_id: str
    device_type: str
    rated_power_kw: Decimal
    current_kw: Decimal = _ZERO
    available_up_kw: Decimal | None = None
    available_down_kw: Decimal | None = None
    controllable: bool = True
    strike_price_eur_mwh: Decimal | None = None
    #: what dispatching the device costs the aggregator: its customer's fee per activation
    fee_eur_per_activation: Decimal = _ZERO

    def operating_range_kw(self) -> tuple[Decimal, Decimal]:
        """Return the (minimum, maximum) power the device can run at, in kW."""
        try:
            low, high = OPERATING_RANGE[self.device_type]
        except KeyError:
            raise ValueError(
                f"device {self.device_id}: unknown device_type {self.device_type!r}"
                f" (one of {', '.join(OPERATING_RANGE)})"
            ) from None
        if self.rated_power_kw <= 0:
            raise ValueError(
                f"device {self.device_id}: rated_power_kw {self.rated_power_kw} must be positive"
            )
        return low * self.rated_power_kw, high * self.rated_power_kw

    def headroom_kw(self, direction: Direction) -> Decimal:
        """Return how far the device can move in ``direction`` from its current power (>= 0)."""
        low, high = self.operating_range_kw()
        if direction is Direction.UP:
            by_range, reported = self.current_kw - low, self.available_up_kw
        else:
            by_range, reported = high - self.current_kw, self.available_down_kw
        headroom = by_range if reported is None else min(by_range, reported)
        return max(headroom, _ZERO)
