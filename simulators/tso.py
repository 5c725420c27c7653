"""TSO simulator: the TenneT side of the platform's exchanges, as a small HTTP service.

Now: device registration (the aggregator tells the TSO which devices sit behind which allocation
point). Later issues add bids, activations and validation submissions to the same service.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from domain.ean import ean18_problem
from simulators.service import HttpError, JsonService, Request

REGISTRATION_FIELDS = ("device_ref", "site_ean", "device_type", "rated_power_kw")


def registration_answer(item: Any) -> dict[str, Any]:
    """Judge one registration the way the TSO would: accepted with a reference, or rejected."""
    if not isinstance(item, dict):
        return {"device_ref": None, "status": "rejected", "reason": "not an object"}
    missing = [name for name in REGISTRATION_FIELDS if item.get(name) in (None, "")]
    ref = item.get("device_ref")
    if missing:
        return {"device_ref": ref, "status": "rejected", "reason": f"missing {', '.join(missing)}"}
    problem = ean18_problem(str(item["site_ean"]))
    if problem:
        return {"device_ref": ref, "status": "rejected", "reason": problem}
    try:
        power = float(item["rated_power_kw"])
    except (TypeError, ValueError):
        power = -1.0
    if not power > 0:
        return {"device_ref": ref, "status": "rejected", "reason": "rated_power_kw must be above 0"}
    digest = hashlib.sha256(f"{item['site_ean']}/{ref}".encode()).hexdigest()[:12].upper()
    return {"device_ref": ref, "status": "accepted", "reference": f"TSO-REG-{digest}"}


def build_tso_simulator() -> JsonService:
    """A TSO simulator with an empty registration book."""
    service = JsonService("tso-simulator")
    book: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    @service.route("POST", "/api/v1/registrations")
    def register(request: Request) -> tuple[HTTPStatus, Any]:
        items = (
            (request.body or {}).get("registrations") if isinstance(request.body, dict) else None
        )
        if not isinstance(items, list):
            raise HttpError(HTTPStatus.BAD_REQUEST, "expected {'registrations': [...]}")
        answers = [registration_answer(item) for item in items]
        now = datetime.now(UTC).isoformat()
        with lock:
            for item, answer in zip(items, answers, strict=True):
                if answer["status"] == "accepted":
                    book[answer["reference"]] = {**item, **answer, "registered_at": now}
        return HTTPStatus.OK, {"results": answers, "answered_at": now}

    @service.route("GET", "/api/v1/registrations")
    def listing(request: Request) -> tuple[HTTPStatus, Any]:
        ean = request.query.get("site_ean")
        with lock:
            rows = [r for r in book.values() if ean is None or r["site_ean"] == ean]
        return HTTPStatus.OK, {"registrations": rows}

    return service
