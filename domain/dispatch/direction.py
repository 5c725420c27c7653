"""Regulation direction and the one place where it meets the offtake-positive sign convention.

Power and energy are offtake-positive everywhere (consumption +, injection -). Regulation is
named from the grid's side: **upward** regulation means less offtake or more injection (a
negative change of offtake), **downward** regulation more offtake or less injection (a positive
change). Amounts *in a direction* (a setpoint, a delivered energy) are positive when they help
in that direction and negative when they went the wrong way.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

Number = TypeVar("Number", Decimal, int)


class Direction(StrEnum):
    """Direction of a regulation request: ``up`` (less offtake) or ``down`` (more offtake)."""

    UP = "up"
    DOWN = "down"

    @property
    def offtake_sign(self) -> int:
        """Sign of the offtake change that regulates in this direction: -1 up, +1 down."""
        return -1 if self is Direction.UP else 1

    def along(self, offtake_change: Number) -> Number:
        """Turn an offtake-positive change (measured - baseline) into an amount in this direction.

        Up: ``baseline - measured``; down: ``measured - baseline``.
        """
        return offtake_change * self.offtake_sign

    def offtake_change(self, amount: Number) -> Number:
        """Turn an amount in this direction into the offtake-positive change it means."""
        return amount * self.offtake_sign

    @classmethod
    def of_offtake_change(cls, offtake_change: Decimal | int) -> Direction:
        """Direction a signed offtake change regulates in: negative (or zero) up, positive down."""
        return cls.DOWN if offtake_change > 0 else cls.UP
