"""Client of the device clouds (OEM APIs; the project's device-cloud simulator locally)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from integrations.http import retrying_session

#: The device cloud answers at most 24 h of measurements per request.
MAX_MEASUREMENT_WINDOW = timedelta(hours=24)


class DeviceCloudClient(dg.ConfigurableResource):
    """Pages the device cloud's REST API with ``requests``."""

    base_url: str = Field(default="http://127.0.0.1:8702", description="device-cloud base URL")
    timeout_s: float = Field(default=10.0, description="per-request timeout in seconds")
    page_size: int = Field(default=200, description="onboarding events per page")
    measurement_page_size: int = Field(default=20_000, description="readings per page")
    state_page_size: int = Field(default=1_000, description="device states per page")

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
