"""Dispatch availability from the device cloud's states: what each member can do right now.

The flexibility model of bidding (``domain.flexibility.device_flex.available_flex``) says how
much a device can hold in each direction over a window; dispatch uses the same numbers over the
activation's validity, so a device is never asked for more than its bid assumed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from domain.dispatch.availability import OPERATING_RANGE, DeviceAvailability
from domain.flexibility.device_flex import available_flex
from domain.flexibility.states import DeviceState

_MILLI = Decimal("0.001")


def _kw(value: float) -> Decimal:
    """Round kW down to the watt: never promise a fraction of a watt more than there is."""
    return Decimal(str(max(value, 0.0))).quantize(_MILLI, rounding=ROUND_FLOOR)


def availability_from_state(
    *,
    device_id: str,
    site_id: str,
    device_type: str,
    rated_power_kw: Decimal,
    controllable: bool,
    strike_price_eur_mwh: Decimal | None,
    state: DeviceState | None,
    valid_from: datetime,
    valid_to: datetime,
    fee_eur_per_activation: Decimal = Decimal(0),
) -> DeviceAvailability:
    """One member as dispatch sees it over [valid_from, valid_to).

    Without a usable state (the device cloud reported none, or nothing valid) the device has no
    headroom: it is left out as ``no_headroom``, never guessed at.
    """
    if state is None:
        return DeviceAvailability(
            device_id=device_id,
            site_id=site_id,
            device_type=device_type,
            rated_power_kw=rated_power_kw,
            available_up_kw=Decimal(0),
            available_down_kw=Decimal(0),
            controllable=controllable,
            strike_price_eur_mwh=strike_price_eur_mwh,
            fee_eur_per_activation=fee_eur_per_activation,
        )
    flex = available_flex(state, valid_from, valid_to)
    low, high = (bound * rated_power_kw for bound in OPERATING_RANGE[device_type])
    # A reading is a measurement: a 11.015 kW reading of an 11 kW charger is 11 kW at most.
    current = min(max(Decimal(str(state.power_kw)).quantize(_MILLI), low), high)
    return DeviceAvailability(
        device_id=device_id,
        site_id=site_id,
        device_type=device_type,
        rated_power_kw=rated_power_kw,
        current_kw=current,
        available_up_kw=_kw(flex.up_kw),
        available_down_kw=_kw(flex.down_kw),
        controllable=controllable,
        strike_price_eur_mwh=strike_price_eur_mwh,
        fee_eur_per_activation=fee_eur_per_activation,
    )
