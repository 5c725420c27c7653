"""A settable clock for the simulators: real time, or a replayed instant."""

from __future__ import annotations

import threading
from datetime import UTC, datetime


class ReplayClock:
    """Callable clock: the instant last ``set`` (a replay), or the system time when unset."""

    def __init__(self, at: datetime | None = None) -> None:
        """Start at ``at`` (aware), or on the system clock when None."""
        self._lock = threading.Lock()
        self._at: datetime | None = None
        self.set(at)

    def set(self, at: datetime | None) -> None:
        """Replay from ``at`` (aware) on; None returns to the system clock."""
        if at is not None and at.utcoffset() is None:
            raise ValueError(f"clock instant {at.isoformat()} has no UTC offset")
        with self._lock:
            self._at = at.astimezone(UTC) if at is not None else None

    def __call__(self) -> datetime:
        """The current instant (UTC)."""
        with self._lock:
            return self._at if self._at is not None else datetime.now(UTC)
