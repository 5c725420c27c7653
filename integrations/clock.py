"""The platform's clock: what time it is for decisions that depend on it (bid gates).

In production the clock is the system's UTC time. A replay (the demo replays 2025-02-27) or a
test fixes it, through the resource's config, to the instant the decision would have been made
(the schedule tick), so gate closure is judged as it would have been then. Only decisions read
this clock; bookkeeping times (``computed_at``, ``submitted_at``) are always the real time.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field


class PlatformClock(dg.ConfigurableResource):
    """``now()``: the system time in UTC, or ``fixed_now`` (ISO 8601 with offset) when set."""

    fixed_now: str | None = Field(
        default=None,
        description="replay/test only: the instant (ISO 8601 with a UTC offset) taken as now",
    )

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        if self.fixed_now is None:
            return datetime.now(UTC)
        fixed = datetime.fromisoformat(self.fixed_now)
        if fixed.utcoffset() is None:
            raise ValueError(f"clock fixed_now {self.fixed_now!r} has no UTC offset")
        return fixed.astimezone(UTC)
