"""Device-cloud simulator: the OEM clouds through which owners onboard their devices.

Serves onboarding events in sequence order from a cursor, the way a device cloud's REST API
pages them. Later issues add measurements and setpoints to the same service.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from typing import Any

from simulators.service import HttpError, JsonService, Request

MAX_PAGE = 500


def load_onboardings(path: Path) -> list[dict[str, Any]]:
    """Read onboarding events (a JSON list) and number them by ``sequence``."""
    events = json.loads(path.read_text(encoding="utf-8"))
    return sorted(events, key=lambda event: int(event["sequence"]))


def build_device_cloud_simulator(onboardings: list[dict[str, Any]]) -> JsonService:
    """A device cloud that pages ``onboardings`` by sequence number."""
    service = JsonService("device-cloud-simulator")

    @service.route("GET", "/api/v1/onboardings")
    def page(request: Request) -> tuple[HTTPStatus, Any]:
        try:
            cursor = int(request.query.get("cursor", "0"))
            limit = min(int(request.query.get("limit", "100")), MAX_PAGE)
        except ValueError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "cursor and limit must be integers") from None
        items = [e for e in onboardings if int(e["sequence"]) > cursor][:limit]
        next_cursor = int(items[-1]["sequence"]) if items else cursor
        has_more = any(int(e["sequence"]) > next_cursor for e in onboardings)
        return HTTPStatus.OK, {"items": items, "next_cursor": next_cursor, "has_more": has_more}

    return service
