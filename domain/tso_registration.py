"""Which devices the TSO must be told about, and the registration message for each."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any


def registration_payload(device: Mapping[str, Any], device_pseudonym: str) -> dict[str, Any]:
    """The registration the TSO receives: the allocation point's EAN and the device's facts.

    Only ids the TSO needs: the site EAN (used in TSO processes) and the device's pseudonym
    (``domain.pseudonyms``), the same one its measurement documents carry, so the TSO can
    check delivery per device without learning the device id. No customer data.
    """
    rated = device["rated_power_kw"]
    return {
        "device_ref": device_pseudonym,
        "site_ean": device["site_ean"],
        "device_type": device["device_type"],
        "rated_power_kw": str(Decimal(rated).normalize()) if rated is not None else None,
    }


def payload_digest(payload: Mapping[str, Any]) -> str:
    """A stable hash of a payload, so an unchanged device is not registered twice."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def due_registrations(
    devices: Iterable[Mapping[str, Any]],
    answered_digests: Mapping[str, str],
    pseudonyms: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Payloads for devices the TSO has not answered yet in their current form.

    ``answered_digests`` holds, per device, the digest of the last payload the TSO answered
    (accepted or rejected). A rejected device is sent again only once its data changed.
    ``pseudonyms`` maps each device id to its pseudonym.
    """
    due = []
    for device in devices:
        payload = registration_payload(device, pseudonyms[device["device_id"]])
        if answered_digests.get(device["device_id"]) != payload_digest(payload):
            due.append(payload)
    return due
