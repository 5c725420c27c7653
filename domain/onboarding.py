"""Turn device-cloud onboarding events into registry device records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.registry import RecordProblem


@dataclass(frozen=True)
class OnboardingOutcome:
    """Device rows for the registry batch, and events refused with their reason."""

    device_rows: list[dict[str, str]]
    refused: list[tuple[dict[str, Any], str, str]]  # (event, reason_code, reason)


def _device_row(event: Mapping[str, Any], site_ids_by_ean: Mapping[str, str]) -> dict[str, str]:
    ean = str(event.get("site_ean") or "").strip()
    site_id = site_ids_by_ean.get(ean)
    if site_id is None:
        raise RecordProblem(
            "unknown_site",
            f"onboarding {event.get('sequence')}: device {event.get('device_serial')!r} is "
            f"installed behind EAN {ean or '(none)'}, which is not a registered site",
        )
    strike = event.get("owner_strike_price_eur_mwh")
    return {
        "device_id": str(event.get("device_serial") or "").strip(),
        "site_id": site_id,
        "device_type": str(event.get("device_type") or "").strip(),
        "rated_power_kw": str(event.get("rated_power_kw") or "").strip(),
        "controllable": "true" if event.get("controllable", True) else "false",
        "oem": str(event.get("oem") or "").strip(),
        "strike_price_eur_mwh": "" if strike is None else str(strike),
    }


def onboardings_to_devices(
    events: list[Mapping[str, Any]], site_ids_by_ean: Mapping[str, str]
) -> OnboardingOutcome:
    """Map each event's site EAN to the registered site; other checks happen at intake."""
    rows: list[dict[str, str]] = []
    refused: list[tuple[dict[str, Any], str, str]] = []
    for event in events:
        try:
            rows.append(_device_row(event, site_ids_by_ean))
        except RecordProblem as problem:
            refused.append((dict(event), problem.code, str(problem)))
    return OnboardingOutcome(rows, refused)
