"""Dispatch: turn a pool's activation into device setpoints (pure logic, no I/O)."""

from __future__ import annotations

from domain.dispatch.availability import OPERATING_RANGE, DeviceAvailability
from domain.dispatch.direction import Direction
from domain.dispatch.disaggregation import (
    DispatchPlan,
    LeftOut,
    PlanLine,
    disaggregate,
    pro_rata_watts,
    reallocate,
)

__all__ = [
    "OPERATING_RANGE",
    "DeviceAvailability",
    "Direction",
    "DispatchPlan",
    "LeftOut",
    "PlanLine",
    "disaggregate",
    "pro_rata_watts",
    "reallocate",
]
