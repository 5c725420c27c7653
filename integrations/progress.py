"""Counted progress for long work: one plain line per reported item, for terminals and CI logs.

``Progress("bidding", 24, "hours").advance()`` prints ``bidding 07/24 hours · 3.1 s/hour · 22 s``:
the items done of the total, the mean time per item (or items per second when faster than one a
second) and the time since the start. Lines are whole lines (no carriage returns), because the
output ends up in CI logs; ``every_s`` keeps a fast loop to about one line per that many seconds
(the first and the last item always print).

Work that runs inside a Dagster run (an asset looping over hours) reports through
:func:`relay`: its lines go to the run's log and, while a caller in the same process listens
(:func:`listening`, as ``vppal demo`` does around its in-process runs), to that caller too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Emit = Callable[[str], None]

_listeners: list[Emit] = []


def print_line(text: str) -> None:
    """Print ``text`` at once (flushed: a piped stdout would otherwise hold it back)."""
    print(text, flush=True)


def format_seconds(seconds: float) -> str:
    """``42 s`` below a minute, ``3 min 05 s`` below an hour, ``1 h 02 min`` beyond."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def format_rate(items: int, seconds: float, unit: str) -> str:
    """Seconds per item (``3.1 s/hour``) when an item takes a second or more, else items/s."""
    singular = unit[:-1] if unit.endswith("s") and len(unit) > 1 else unit
    if items <= 0 or seconds <= 0:
        return f"- s/{singular}"
    per_item = seconds / items
    if per_item >= 1:
        return f"{per_item:.1f} s/{singular}"
    per_second = items / seconds
    return f"{per_second:,.1f} {unit}/s" if per_second < 100 else f"{per_second:,.0f} {unit}/s"


class Progress:
    """Counts items done of a known total and emits ``label i/n unit · rate · elapsed`` lines."""

    def __init__(
        self,
        label: str,
        total: int,
        unit: str,
        emit: Emit = print_line,
        *,
        every_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start the clock; ``every_s`` > 0 thins the lines of a fast loop to one per interval."""
        if total < 0:
            raise ValueError(f"progress total must be >= 0, got {total}")
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self._emit = emit
        self._every_s = every_s
        self._clock = clock
        self._started = clock()
        self._last_line: float | None = None

    @property
    def elapsed_s(self) -> float:
        """Seconds since the start."""
        return self._clock() - self._started

    def line(self, note: str = "") -> str:
        """The current line, e.g. ``bidding 07/24 hours · 3.1 s/hour · 22 s``."""
        width = len(str(self.total))
        elapsed = self.elapsed_s
        parts = [
            f"{self.label} {self.done:0{width}d}/{self.total} {self.unit}",
            *([note] if note else []),
            format_rate(self.done, elapsed, self.unit),
            format_seconds(elapsed),
        ]
        return " · ".join(parts)

    def advance(self, items: int = 1, note: str = "") -> str | None:
        """Count ``items`` more as done; emit and return the line unless thinned out."""
        self.done += items
        now = self._clock()
        due = (
            self._last_line is None
            or self.done >= self.total
            or now - self._last_line >= self._every_s
        )
        if not due:
            return None
        self._last_line = now
        text = self.line(note)
        self._emit(text)
        return text


def relay(primary: Emit) -> Emit:
    """An emitter writing to ``primary`` (e.g. a run's log) and to every current listener."""

    def emit(text: str) -> None:
        primary(text)
        for listener in list(_listeners):
            listener(text)

    return emit


@contextmanager
def listening(listener: Emit) -> Iterator[None]:
    """While inside, :func:`relay` emitters in this process also write to ``listener``."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)
