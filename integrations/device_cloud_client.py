"""Client of the device clouds (OEM APIs; the project's device-cloud simulator locally)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from integrations.http import (
    UnexpectedAnswerError,
    json_int,
    json_object,
    json_objects,
    retrying_session,
    unexpected,
)

if TYPE_CHECKING:  # requests loads in runs only
    import requests

#: The device cloud answers at most 24 h of measurements per request.
MAX_MEASUREMENT_WINDOW = timedelta(hours=24)
SETPOINTS_PATH = "/api/v1/setpoints"


@dataclass(frozen=True)
class SetpointRequest:
    """Tell a device to run at ``target_kw`` (offtake positive) over [valid_from, valid_to).

    ``activation_id`` and ``valid_from`` with the device make the setpoint's identity: the
    device cloud takes a re-sent one once. A new ``revision`` (an activation's revision)
    replaces what the same identity held.
    """

    device_id: str
    target_kw: Decimal
    valid_from: datetime
    valid_to: datetime
    activation_id: str
    revision: int = 1

    def as_json(self) -> dict[str, Any]:
        """The item as the device cloud takes it."""
        for bound in (self.valid_from, self.valid_to):
            if bound.utcoffset() is None:
                raise ValueError(f"{bound.isoformat()} has no UTC offset")
        return {
            "device_id": self.device_id,
            "target_kw": float(self.target_kw),
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
            "activation_id": self.activation_id,
            "revision": self.revision,
        }


#: ``SetpointResult.status`` of a setpoint whose batch got no answer after every attempt.
UNANSWERED = "unanswered"


class DeviceCloudUnavailableError(RuntimeError):
    """The device cloud gave no usable answer to a request after every attempt."""


@dataclass(frozen=True)
class SetpointResult:
    """The device cloud's answer to one setpoint: accepted, or rejected with a reason.

    Reasons: ``unknown_device``, ``not_controllable``, ``outside_operating_range ...``,
    ``superseded ...``, ``simulated_failure``, ``invalid: ...``; for status ``unanswered``,
    ``no answer from the device cloud after N attempts: ...``. ``duplicate``: it had the very
    same setpoint already (a retry).
    """

    device_id: str
    activation_id: str
    status: str
    reason: str | None
    duplicate: bool

    @property
    def accepted(self) -> bool:
        """True when the device took the setpoint."""
        return self.status == "accepted"


class DeviceCloudClient(dg.ConfigurableResource):
    """Pages the device cloud's REST API with ``requests``.

    An answer that is not the JSON promised (not JSON, keys missing, wrong types, or a page
    announcing more without advancing its cursor) raises ``UnexpectedAnswerError`` naming
    the URL and the problem, instead of any error the parsing happened to hit.
    """

    base_url: str = Field(default="http://127.0.0.1:8702", description="device-cloud base URL")
    timeout_s: float = Field(default=10.0, description="per-request timeout in seconds")
    page_size: int = Field(default=200, description="onboarding events per page")
    measurement_page_size: int = Field(default=20_000, description="readings per page")
    state_page_size: int = Field(default=1_000, description="device states per page")
    setpoint_batch_size: int = Field(default=500, description="setpoints per POST")
    setpoint_attempts: int = Field(default=4, description="tries per setpoint POST")
    setpoint_backoff_s: float = Field(default=0.25, description="first wait between tries")

    def onboardings_since(self, cursor: int) -> Iterator[tuple[dict[str, Any], int]]:
        """Yield (event, cursor after it) for every onboarding after ``cursor``."""
        session = retrying_session()
        while True:
            response = session.get(
                f"{self.base_url.rstrip('/')}/api/v1/onboardings",
                params={"cursor": cursor, "limit": self.page_size},
                timeout=self.timeout_s,
            )
            response.raise_for_status()
            page = json_object(response, "items", "next_cursor")
            items = json_objects(response, page, "items")
            sequences = [json_int(response, item, "sequence") for item in items]
            next_cursor = _advanced(response, page, cursor)
            yield from zip(items, sequences, strict=True)
            cursor = next_cursor
            if page.get("has_more") is not True:
                return

    def measurements(
        self,
        start: datetime,
        end: datetime,
        resolution: str = "native",
        device_id: str | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield pages of readings ``{"device_id", "ts", "power_w"}`` with start <= ts < end.

        ``start`` and ``end`` must be timezone-aware. ``resolution`` is ``native`` or ``4s``
        (4-second streams for the aFRR devices). Within a window of at most 24 h readings come
        ordered by (device_id, ts); a longer window is asked in consecutive 24-hour pieces, so
        the order is by piece first. ``ts`` is ISO 8601 with offset; ``power_w`` is offtake
        positive. An empty window yields nothing.
        """
        for bound in (start, end):
            if bound.utcoffset() is None:
                raise ValueError(f"{bound.isoformat()} has no UTC offset")
        session = retrying_session()
        url = f"{self.base_url.rstrip('/')}/api/v1/measurements"
        piece_start = start
        while piece_start < end:
            piece_end = min(piece_start + MAX_MEASUREMENT_WINDOW, end)
            params: dict[str, Any] = {
                "from": piece_start.isoformat(),
                "to": piece_end.isoformat(),
                "resolution": resolution,
                "limit": self.measurement_page_size,
            }
            if device_id is not None:
                params["device_id"] = device_id
            cursor = 0
            while True:
                response = session.get(
                    url, params={**params, "cursor": cursor}, timeout=self.timeout_s
                )
                response.raise_for_status()
                page = json_object(response, "items", "next_cursor")
                items = json_objects(response, page, "items")
                next_cursor = _advanced(response, page, cursor)
                if items:
                    yield items
                cursor = next_cursor
                if page.get("has_more") is not True:
                    break
            piece_start = piece_end

    def device_states(self, at: datetime) -> Iterator[list[dict[str, Any]]]:
        """Yield pages of every device's state at the aware instant ``at``, ordered by device_id.

        An item holds ``device_id``, ``device_type``, ``as_of``, ``rated_power_kw``,
        ``power_kw`` and the fields of its type (``simulators/device_cloud.py`` lists them);
        ``domain.flexibility.from_cloud.state_from_cloud`` turns one into a device state.
        Pages are fetched one by one with the retrying session, like the measurements.
        """
        if at.utcoffset() is None:
            raise ValueError(f"{at.isoformat()} has no UTC offset")
        session = retrying_session()
        url = f"{self.base_url.rstrip('/')}/api/v1/device-states"
        cursor = 0
        while True:
            response = session.get(
                url,
                params={"at": at.isoformat(), "cursor": cursor, "limit": self.state_page_size},
                timeout=self.timeout_s,
            )
            response.raise_for_status()
            page = json_object(response, "items", "next_cursor")
            items = json_objects(response, page, "items")
            if not all(isinstance(item.get("device_id"), str) for item in items):
                raise unexpected(response, "a device state without a device_id")
            next_cursor = _advanced(response, page, cursor)
            if items:
                yield items
            cursor = next_cursor
            if page.get("has_more") is not True:
                return

    def send_setpoints(self, items: Iterable[SetpointRequest]) -> list[SetpointResult]:
        """Send setpoints; one result per item, in order.

        POSTed with the retrying session (``integrations.http``) in batches of
        ``setpoint_batch_size``. A batch is retried (backoff ``setpoint_backoff_s``, doubling)
        on connection errors, timeouts, 5xx answers and answers that are not one result object
        per setpoint, up to ``setpoint_attempts`` tries:
        safe, because the device cloud holds a setpoint once per (activation_id, device_id,
        valid_from). A batch still unanswered after that gets status ``unanswered`` for each
        of its items, with the last problem as reason, and the other batches are still sent:
        to the caller its devices refused (dispatch moves their shares to other devices). A
        4xx raises at once.
        """
        requests_list = list(items)
        url = f"{self.base_url.rstrip('/')}{SETPOINTS_PATH}"
        results: list[SetpointResult] = []
        size = max(1, self.setpoint_batch_size)
        with retrying_session() as session:
            for first in range(0, len(requests_list), size):
                batch = requests_list[first : first + size]
                payload = {"setpoints": [item.as_json() for item in batch]}
                try:
                    answers = self._post_setpoints(session, url, payload)
                except DeviceCloudUnavailableError as error:  # this batch only: the rest go on
                    answers = [{"status": UNANSWERED, "reason": str(error)}] * len(batch)
                results.extend(
                    SetpointResult(
                        device_id=item.device_id,
                        activation_id=item.activation_id,
                        status=str(answer.get("status")),
                        reason=None if answer.get("reason") is None else str(answer["reason"]),
                        duplicate=bool(answer.get("duplicate")),
                    )
                    for item, answer in zip(batch, answers, strict=True)
                )
        return results

    def _post_setpoints(
        self, session: requests.Session, url: str, payload: dict[str, Any]
    ) -> list[dict[str, Any]]:
        import requests

        problem = "no attempt made"
        for attempt in range(1, self.setpoint_attempts + 1):
            if attempt > 1:
                time.sleep(self.setpoint_backoff_s * 2 ** (attempt - 2))
            try:
                response = session.post(url, json=payload, timeout=self.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as error:
                problem = f"{type(error).__name__}: {error}"
                continue
            if response.status_code >= 500:
                problem = f"HTTP {response.status_code}"
                continue
            response.raise_for_status()
            try:  # an answer that is no list of results is as good as none: ask again
                results = json_objects(response, json_object(response, "results"), "results")
            except UnexpectedAnswerError as error:
                problem = str(error)
                continue
            if len(results) == len(payload["setpoints"]):
                return results
            problem = f"{len(results)} results for {len(payload['setpoints'])} setpoints"
        raise DeviceCloudUnavailableError(
            f"no answer from the device cloud after {self.setpoint_attempts} attempts: {problem}"
        )


def _advanced(response: requests.Response, page: dict[str, Any], cursor: int) -> int:
    """The page's ``next_cursor``; refused when more pages are announced without progress.

    A device cloud that keeps answering ``has_more`` with the same cursor would otherwise
    page forever.
    """
    next_cursor = json_int(response, page, "next_cursor")
    if page.get("has_more") is True and next_cursor <= cursor:
        raise unexpected(response, f"has_more with next_cursor {next_cursor} <= {cursor}")
    return next_cursor
