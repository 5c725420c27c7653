"""Pool members (registry) and device-cloud state items -> the domain's ``PoolDevice``s.

Which members can offer flexibility in an ISP:

- **not controllable**: ``controllable`` false in the registry, or a type without a state
  (``other``): they offer nothing and are not asked for a state;
- **unavailable**: the device cloud gave no state for the device, a state it refuses
  (``state_from_cloud``), or one of another device type than the registry's; they offer
  nothing in that ISP;
- the rest become ``PoolDevice``s with their strike price and their site's exclusion periods
  (``device_flex_frame`` gives them 0 in the ISPs an exclusion overlaps).

The rated power is the registry's (what the TSO registration declares): a state reporting
another rating is re-rated, so a device never offers more than its registered power.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.flexibility.from_cloud import STATE_DEVICE_TYPES, DeviceStateError, state_from_cloud
from domain.flexibility.pool import Period, PoolDevice
from integrations.flexibility.store import PoolMember


@dataclass
class MemberDevices:
    """The members of one ISP sorted by what they can offer: devices, and those left out."""

    devices: list[PoolDevice] = field(default_factory=list)
    not_controllable: list[PoolMember] = field(default_factory=list)
    unavailable: dict[PoolMember, str] = field(default_factory=dict)  # member -> reason


def _checked_state(member: PoolMember, item: Mapping[str, Any]) -> Any:
    """The member's state from its cloud item, re-rated to the registry; raises ValueError."""
    if item.get("device_type") != member.device_type:
        raise DeviceStateError(
            f"device {member.device_id}: the device cloud reports type "
            f"{item.get('device_type')!r}, the registry {member.device_type!r}"
        )
    state = state_from_cloud(item)
    if state.rated_power_kw != member.rated_power_kw:
        state = dataclasses.replace(state, rated_power_kw=member.rated_power_kw)
    return state


def member_devices(
    members: Iterable[PoolMember],
    items: Mapping[str, Mapping[str, Any]],
    exclusions: Mapping[str, tuple[Period, ...]],
) -> MemberDevices:
    """Sort ``members`` into ``PoolDevice``s and the ones that offer nothing (with why).

    ``items`` are the device cloud's state items by device_id, ``exclusions`` the excluded
    periods by site_id (``store.site_exclusions``).
    """
    out = MemberDevices()
    for member in members:
        if not member.controllable or member.device_type not in STATE_DEVICE_TYPES:
            out.not_controllable.append(member)
            continue
        item = items.get(member.device_id)
        if item is None:
            out.unavailable[member] = "no state from the device cloud"
            continue
        try:
            state = _checked_state(member, item)
        except ValueError as exc:
            out.unavailable[member] = str(exc)
            continue
        out.devices.append(
            PoolDevice(
                pool_id=member.pool_id,
                state=state,
                strike_price_eur_mwh=member.strike_price_eur_mwh,
                excluded_periods=exclusions.get(member.site_id, ()),
            )
        )
    return out
