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

from integrations.http import retrying_session

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


@dataclass(frozen=True)
class SetpointResult:
    """The device cloud's answer to one setpoint: accepted, or rejected with a reason.

    Reasons: ``unknown_device``, ``not_controllable``, ``outside_operating_range ...``,
    ``superseded ...``, ``simulated_failure``, ``invalid: ...``. ``duplicate``: it had the very
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
    """Pages the device cloud's REST API with ``requests``."""

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
            page = response.json()
            for item in page["items"]:
                yield item, int(item["sequence"])
            cursor = int(page["next_cursor"])
            if not page.get("has_more"):
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
                page = response.json()
                if page["items"]:
                    yield page["items"]
                cursor = int(page["next_cursor"])
                if not page.get("has_more"):
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
            page = response.json()
            if page["items"]:
                yield page["items"]
            cursor = int(page["next_cursor"])
            if not page.get("has_more"):
                return

    def send_setpoints(self, items: Iterable[SetpointRequest]) -> list[SetpointResult]:
        """Send setpoints; one result per item, in order.

        POSTed with the retrying session (``integrations.http``) in batches of
        ``setpoint_batch_size``. A batch is retried (backoff ``setpoint_backoff_s``, doubling)
        on connection errors, timeouts and 5xx answers, up to ``setpoint_attempts`` tries:
        safe, because the device cloud holds a setpoint once per (activation_id, device_id,
        valid_from). A 4xx raises at once.
        """
        requests_list = list(items)
        url = f"{self.base_url.rstrip('/')}{SETPOINTS_PATH}"
        results: list[SetpointResult] = []
        size = max(1, self.setpoint_batch_size)
        with retrying_session() as session:
            for first in range(0, len(requests_list), size):
                batch = requests_list[first : first + size]
                payload = {"setpoints": [item.as_json() for item in batch]}
                answers = self._post_setpoints(session, url, payload)
                if len(answers) != len(batch):
                    raise RuntimeError(
                        f"device cloud answered {len(answers)} results for {len(batch)} setpoints"
                    )
                results.extend(
                    SetpointResult(
                        device_id=item.device_id,
                        activation_id=item.activation_id,
                        status=str(answer.get("status")),
                        reason=answer.get("reason"),
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
            return list(response.json()["results"])
        raise RuntimeError(
            f"device cloud took no setpoints after {self.setpoint_attempts} attempts: {problem}"
        )
