"""Faults to inject into a simulator's HTTP answers, for the reliability tests.

Every ``JsonService`` holds a ``FaultPlan`` (``service.faults``), empty by default, so the
simulators behave normally unless a test arms a fault on a route (method and path):

- ``fail``: answer an HTTP status (500 by default) without calling the handler;
- ``delay``: call the handler (the request is processed), then wait before answering, as a
  slow server whose answer arrives after the client's timeout;
- ``garbage``: answer these bytes (status 200 by default) without calling the handler;
- ``drop``: close the connection without answering, before the handler runs;
- ``pass``: answer normally (to let some requests through before a fault).

Each fault fires ``times`` times (None: until cleared), in the order armed. With
``record=True`` the plan also keeps every request it saw (method, path, monotonic time,
body), so a test can count attempts and compare bodies; off by default, because request
bodies would pile up in a long-running simulator.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

FAIL = "fail"
DELAY = "delay"
GARBAGE = "garbage"
DROP = "drop"
PASS = "pass"


@dataclass
class Fault:
    """One armed fault on a route; ``times`` None fires until the plan is cleared."""

    kind: str
    times: int | None = 1
    status: int = 500
    delay_s: float = 0.0
    body: bytes = b""
    content_type: str = "application/json"


@dataclass(frozen=True)
class SeenRequest:
    """A request as the service received it (kept when the plan records)."""

    method: str
    path: str
    at: float  # time.monotonic()
    body: bytes
    fault: str | None


class FaultPlan:
    """The faults armed per route, consumed one request at a time; thread-safe."""

    def __init__(self, record: bool = False) -> None:
        """An empty plan; ``record`` keeps every request seen."""
        self.record = record
        self._faults: dict[tuple[str, str], deque[Fault]] = {}
        self._seen: list[SeenRequest] = []
        self._lock = threading.Lock()

    def arm(self, method: str, path: str, fault: Fault) -> None:
        """Add ``fault`` to the route's queue (it fires after the ones armed before)."""
        if fault.times is not None and fault.times < 1:
            raise ValueError("a fault fires at least once (times >= 1, or None)")
        with self._lock:
            self._faults.setdefault((method.upper(), path), deque()).append(fault)

    def fail(self, method: str, path: str, status: int = 500, times: int | None = 1) -> None:
        """Answer ``status`` (no handler) the next ``times`` requests."""
        self.arm(method, path, Fault(FAIL, times, status=status))

    def delay(self, method: str, path: str, seconds: float, times: int | None = 1) -> None:
        """Process the next ``times`` requests, then wait ``seconds`` before answering."""
        self.arm(method, path, Fault(DELAY, times, delay_s=seconds))

    def garbage(
        self,
        method: str,
        path: str,
        body: bytes = b"\x00{<not an answer",
        *,
        status: int = 200,
        content_type: str = "application/json",
        times: int | None = 1,
    ) -> None:
        """Answer ``body`` (no handler) the next ``times`` requests."""
        self.arm(
            method, path, Fault(GARBAGE, times, status=status, body=body, content_type=content_type)
        )

    def drop(self, method: str, path: str, times: int | None = 1) -> None:
        """Close the connection without an answer the next ``times`` requests."""
        self.arm(method, path, Fault(DROP, times))

    def disarm(self) -> None:
        """Disarm every fault; the requests seen are kept."""
        with self._lock:
            self._faults.clear()

    def let_through(self, method: str, path: str, times: int = 1) -> None:
        """Answer the next ``times`` requests normally (the faults armed after them wait)."""
        self.arm(method, path, Fault(PASS, times))

    def clear(self) -> None:
        """Disarm every fault and forget the requests seen."""
        with self._lock:
            self._faults.clear()
            self._seen.clear()

    def take(self, method: str, path: str, body: bytes) -> Fault | None:
        """The fault for this request (consuming one firing), after recording it."""
        with self._lock:
            queue = self._faults.get((method, path))
            fault = queue[0] if queue else None
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times == 0:
                    queue.popleft()  # type: ignore[union-attr]
            if self.record:
                kind = fault.kind if fault is not None else None
                self._seen.append(SeenRequest(method, path, time.monotonic(), body, kind))
        return fault

    def seen(self, method: str | None = None, path: str | None = None) -> list[SeenRequest]:
        """The requests recorded, oldest first, optionally of one method and path."""
        with self._lock:
            return [
                request
                for request in self._seen
                if (method is None or request.method == method)
                and (path is None or request.path == path)
            ]
