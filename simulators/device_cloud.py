"""Device-cloud simulator: the OEM clouds through which owners onboard and read their devices.

Serves onboarding events in sequence order from a cursor, the way a device cloud's REST API
pages them, and the devices' power measurements (``simulators/profiles.py``: real replays for
heat pumps and households, shaped series for EV chargers, PV and batteries).

``GET /api/v1/measurements?from=&to=&cursor=&limit=[&device_id=][&resolution=native|4s]``
    Readings ``{"device_id", "ts", "power_w"}`` with ``from <= ts < to``, ordered by
    (device_id, ts) and paged by ``cursor``, an offset into that order (``limit`` defaults to
    5,000 and is capped at 50,000). ``from`` and ``to`` are ISO 8601 with a UTC offset, at most
    24 h apart. ``ts`` is UTC (``+00:00``); ``power_w`` is offtake positive, 0.1 W precision.
    Each device reports at its native resolution (heat pumps 300 s, ``other`` 900 s, EV
    chargers, PV inverters and batteries 60 s); ``resolution=4s`` gives a 4-second stream for
    the aFRR devices and leaves the others native. The answer carries ``next_cursor``,
    ``has_more`` and ``resolution_s``, the resolution of each device on the page.
``GET /api/v1/devices``
    The devices the cloud knows, with type, rated power, native resolution and whether it can
    stream at 4 s (aFRR).
``GET /api/v1/device-states?at=&cursor=&limit=``
    Every device's state at the instant ``at`` (ISO 8601 with a UTC offset), ordered by
    ``device_id`` and paged like the measurements (``cursor`` an offset into that order,
    ``limit`` 1,000 by default, at most 10,000; ``next_cursor``, ``has_more``). One item per
    device, built by ``device_state`` from the same profiles as the measurements; units are in
    the field names (``_kw``, ``_kwh``, ``_minutes``), ``soc*`` are fractions 0..1, times UTC.
    While a setpoint is active the item also has ``setpoint_kw`` and ``setpoint_activation_id``.
``POST /api/v1/setpoints`` / ``GET /api/v1/setpoints?activation_id=&device_id=``
    Device setpoints from the aggregator's dispatch, answered per item, idempotent per
    (activation_id, device_id, valid_from); while one is active the device's measurements and
    ``power_kw`` show its target instead of the profile (``simulators.setpoints``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np

from simulators.profiles import (
    BATTERY_HOURS,
    DEFAULT_FOLDER,
    NATIVE_RESOLUTION_S,
    SOC_MAX,
    SOC_MIN,
    RealProfiles,
    battery_state,
    device_power,
    ev_sessions,
    grid_length,
    load_real_profiles,
)
from simulators.service import HttpError, JsonService, Request
from simulators.setpoints import MAX_SETPOINTS, SetpointBook

MAX_PAGE = 500
MEASUREMENTS_PAGE = 5_000
MAX_MEASUREMENTS_PAGE = 50_000
MAX_WINDOW = timedelta(hours=24)
AFRR_RESOLUTION_S = 4
RESOLUTIONS = ("native", "4s")
STATES_PAGE = 1_000
MAX_STATES_PAGE = 10_000
#: The comfort band of every simulated heat pump, in minutes each way: how long it may stay
#: off (deferred) or run at rated power (advanced) before the room or tank leaves the band.
#: The simulator replays real power without temperatures, so this is the documented
#: assumption of docs/bidding.md (30 minutes each way), not something derived from data.
HEAT_PUMP_DEFERRABLE_MINUTES = 30.0
HEAT_PUMP_ADVANCEABLE_MINUTES = 30.0
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

# A '+' sent unencoded in a query string arrives as a space: "10:00:00 01:00" -> "+01:00".
_SPACE_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def load_onboardings(path: Path) -> list[dict[str, Any]]:
    """Read onboarding events (a JSON list) and number them by ``sequence``."""
    events = json.loads(path.read_text(encoding="utf-8"))
    return sorted(events, key=lambda event: int(event["sequence"]))


def _parse_instant(name: str, raw: str | None) -> datetime:
    example = "e.g. 2025-02-27T10:00:00+01:00"
    if not raw:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"'{name}' is required (ISO 8601, {example})")
    try:
        value = datetime.fromisoformat(_SPACE_OFFSET.sub(r"\1+\2", raw.strip()))
    except ValueError:
        raise HttpError(
            HTTPStatus.BAD_REQUEST, f"'{name}'={raw!r} is not an ISO 8601 timestamp ({example})"
        ) from None
    if value.utcoffset() is None:
        raise HttpError(
            HTTPStatus.BAD_REQUEST,
            f"'{name}'={raw!r} has no UTC offset; add one ({example}, or Z for UTC)",
        )
    return value


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"'{name}' must be an integer") from None


def _checked_devices(devices: Iterable[Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """Devices by id, sorted by id (the measurement order); unusable rows are an error."""
    by_id: dict[str, dict[str, str]] = {}
    for row in devices:
        device = {key: str(row[key]) for key in ("device_id", "device_type", "rated_power_kw")}
        device["site_id"] = str(row.get("site_id") or "")
        device["controllable"] = str(row.get("controllable") or "true")
        if device["device_type"] not in NATIVE_RESOLUTION_S:
            raise ValueError(f"{device['device_id']}: unknown type {device['device_type']!r}")
        if not float(device["rated_power_kw"]) > 0:
            raise ValueError(f"{device['device_id']}: rated_power_kw must be > 0")
        by_id[device["device_id"]] = device
    return dict(sorted(by_id.items()))


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _step_start(at: datetime, step_s: int) -> datetime:
    """Start of the ``step_s`` grid interval (aligned to the epoch) that contains ``at``."""
    return datetime.fromtimestamp(math.floor(at.timestamp()) // step_s * step_s, UTC)


def _power_now_kw(device: Mapping[str, str], at: datetime, profiles: RealProfiles) -> float:
    """The device's power at ``at``: its 1-second reading there, noise included, in kW.

    Every profile is held over its native step (replays, PV, the battery's controller) and the
    noise is a function of the timestamp, so on the native grid this is the /measurements
    reading. An EV's reading is the mean over its interval: a car plugged in 9 s after a
    whole minute reads as partly charging during that minute, but not in its state.
    """
    second = _step_start(at, 1)
    _, power_w = device_power(device, second, second + timedelta(seconds=1), 1, profiles)
    return round(round(float(power_w[0]), 1) / 1000, 4)


def _ev_charger_state(device: Mapping[str, str], at: datetime, rated_kw: float) -> dict[str, Any]:
    """The session a car is plugged in for at ``at`` (sessions last at most 24 h), if any."""
    t = at.timestamp()
    today = at.astimezone(AMSTERDAM).date()
    for day in (today - timedelta(days=2), today - timedelta(days=1), today):
        for session in ev_sessions(device, day):
            arrival, departure, charge_end, power_w, energy_kwh = (
                float(cast(float, session[key]))
                for key in ("arrival_s", "departure_s", "charge_end_s", "power_w", "energy_kwh")
            )
            if arrival <= t < departure:
                power_kw = power_w / 1000
                charged_kwh = power_kw * (min(t, charge_end) - arrival) / 3600
                return {
                    "connected": True,
                    "energy_needed_kwh": round(max(0.0, energy_kwh - charged_kwh), 4),
                    "departure": datetime.fromtimestamp(departure, UTC).isoformat(),
                    "max_power_kw": power_kw,
                }
    return {
        "connected": False,
        "energy_needed_kwh": 0.0,
        "departure": None,
        "max_power_kw": rated_kw,
    }


def _battery_state(
    device: Mapping[str, str], at: datetime, rated_kw: float, profiles: RealProfiles
) -> dict[str, Any]:
    """SoC at ``at``: the controller's SoC after its 60-s step, less what is left of the step."""
    step_s = NATIVE_RESOLUTION_S["battery"]
    first = _step_start(at, step_s)
    end = first + timedelta(seconds=step_s)
    _, power_w, soc_after = battery_state(device, first, end, step_s, profiles)
    capacity_kwh = BATTERY_HOURS * rated_kw
    left_h = (end - at).total_seconds() / 3600
    soc = float(soc_after[0]) - float(power_w[0]) / 1000 * left_h / capacity_kwh
    return {
        "soc": round(soc, 6),
        "soc_min": SOC_MIN,
        "soc_max": SOC_MAX,
        "capacity_kwh": capacity_kwh,
        "max_charge_kw": rated_kw,
        "max_discharge_kw": rated_kw,
    }


def device_state(device: Mapping[str, str], at: datetime, profiles: RealProfiles) -> dict[str, Any]:
    """One device's state at the aware instant ``at``, as ``/api/v1/device-states`` serves it.

    Every item: ``device_id``, ``device_type``, ``as_of`` (``at`` in UTC), ``rated_power_kw``
    and ``power_kw``, the power at ``at`` (offtake positive, 0.1 W precision; at an instant of
    the device's native grid it is the reading ``/api/v1/measurements`` gives there, except
    for an EV whose car arrives or finishes within that reading's interval). Then per type:

    - ``ev_charger``: ``connected``, ``energy_needed_kwh`` (what the session still charges
      before it leaves), ``departure`` (UTC, null when no car), ``max_power_kw`` (the lower
      of the charger's and the car's limit; the rated power when no car is plugged in);
    - ``heat_pump``: ``deferrable_minutes``, ``advanceable_minutes`` (the comfort band,
      ``HEAT_PUMP_DEFERRABLE_MINUTES`` / ``HEAT_PUMP_ADVANCEABLE_MINUTES``);
    - ``battery``: ``soc``, ``soc_min``, ``soc_max`` (fractions of ``capacity_kwh``, 2 h x
      rated), ``capacity_kwh``, ``max_charge_kw``, ``max_discharge_kw`` (the rated power);
    - ``pv_inverter`` and ``other``: nothing more.
    """
    if at.utcoffset() is None:
        raise ValueError(f"at must be timezone-aware, got {at.isoformat()}")
    kind = device["device_type"]
    rated_kw = float(device["rated_power_kw"])
    item: dict[str, Any] = {
        "device_id": device["device_id"],
        "device_type": kind,
        "as_of": _utc_text(at),
        "rated_power_kw": rated_kw,
        "power_kw": _power_now_kw(device, at, profiles),
    }
    if kind == "ev_charger":
        item.update(_ev_charger_state(device, at, rated_kw))
    elif kind == "heat_pump":
        item["deferrable_minutes"] = HEAT_PUMP_DEFERRABLE_MINUTES
        item["advanceable_minutes"] = HEAT_PUMP_ADVANCEABLE_MINUTES
    elif kind == "battery":
        item.update(_battery_state(device, at, rated_kw, profiles))
    return item


def build_device_cloud_simulator(
    onboardings: list[dict[str, Any]],
    *,
    devices: Iterable[Mapping[str, str]] = (),
    afrr_devices: frozenset[str] = frozenset(),
    profiles_folder: Path | None = None,
    setpoints: SetpointBook | None = None,
) -> JsonService:
    """A device cloud that pages ``onboardings`` and serves measurements of ``devices``.

    ``devices`` are registry rows (``device_id``, ``device_type``, ``rated_power_kw``,
    ``site_id``, optionally ``controllable``); ``afrr_devices`` are the ids that stream at 4 s
    on request. The real series are read from ``profiles_folder`` (default ``data/real``) at
    the first measurement request. ``setpoints`` is the setpoint book (default: an empty one
    where no device fails).
    """
    service = JsonService("device-cloud-simulator")
    known = _checked_devices(devices)
    book = setpoints if setpoints is not None else SetpointBook()
    folder = profiles_folder or DEFAULT_FOLDER

    def profiles() -> RealProfiles:
        return load_real_profiles(folder)  # read once per process, then cached

    def resolution_of(device_id: str, resolution: str) -> int:
        if resolution == "4s" and device_id in afrr_devices:
            return AFRR_RESOLUTION_S
        return NATIVE_RESOLUTION_S[known[device_id]["device_type"]]

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

    @service.route("GET", "/api/v1/devices")
    def list_devices(_request: Request) -> tuple[HTTPStatus, Any]:
        items = [
            {
                "device_id": device_id,
                "device_type": device["device_type"],
                "rated_power_kw": float(device["rated_power_kw"]),
                "site_id": device["site_id"],
                "native_resolution_s": NATIVE_RESOLUTION_S[device["device_type"]],
                "afrr_4s": device_id in afrr_devices,
            }
            for device_id, device in known.items()
        ]
        return HTTPStatus.OK, {"items": items}

    @service.route("GET", "/api/v1/measurements")
    def measurements(request: Request) -> tuple[HTTPStatus, Any]:
        start = _parse_instant("from", request.query.get("from"))
        end = _parse_instant("to", request.query.get("to"))
        if end <= start:
            raise HttpError(HTTPStatus.BAD_REQUEST, "'to' must be after 'from'")
        if end - start > MAX_WINDOW:
            raise HttpError(HTTPStatus.BAD_REQUEST, "the window from 'from' to 'to' exceeds 24 h")
        resolution = request.query.get("resolution", "native")
        if resolution not in RESOLUTIONS:
            raise HttpError(HTTPStatus.BAD_REQUEST, "'resolution' must be 'native' or '4s'")
        cursor = _int_param(request, "cursor", 0)
        limit = min(_int_param(request, "limit", MEASUREMENTS_PAGE), MAX_MEASUREMENTS_PAGE)
        if cursor < 0 or limit < 1:
            raise HttpError(HTTPStatus.BAD_REQUEST, "'cursor' must be >= 0 and 'limit' >= 1")
        device_id = request.query.get("device_id")
        if device_id is not None and device_id not in known:
            raise HttpError(HTTPStatus.NOT_FOUND, f"unknown device_id {device_id!r}")
        selected = [device_id] if device_id is not None else list(known)

        # Offsets of each device's readings in the (device_id, ts) order.
        resolutions = [resolution_of(d, resolution) for d in selected]
        counts = np.array([grid_length(start, end, r) for r in resolutions], dtype=np.int64)
        ends = np.cumsum(counts)
        total = int(ends[-1]) if len(ends) else 0
        items: list[dict[str, Any]] = []
        on_page: dict[str, int] = {}
        position = cursor
        stop = min(cursor + limit, total)
        index = int(np.searchsorted(ends, position, side="right"))
        while position < stop:
            device, res = known[selected[index]], resolutions[index]
            offset = position - int(ends[index] - counts[index])
            take = min(int(counts[index]) - offset, stop - position)
            # The grid is aligned to multiples of res, so a sub-window gives the same readings.
            grid_start = -(-math.ceil(start.timestamp()) // res) * res
            first = datetime.fromtimestamp(grid_start + offset * res, UTC)
            ts, power = device_power(
                device, first, first + timedelta(seconds=take * res), res, profiles()
            )
            power = book.overlay(device, ts.astype(np.int64), res, power)
            stamps = np.char.add(np.datetime_as_string(ts, unit="s"), "+00:00").tolist()
            device_ids = [device["device_id"]] * len(stamps)
            values = np.round(power, 1).tolist()
            items.extend(
                {"device_id": d, "ts": t, "power_w": p}
                for d, t, p in zip(device_ids, stamps, values, strict=True)
            )
            on_page[device["device_id"]] = res
            position += take
            index += 1
        return HTTPStatus.OK, {
            "items": items,
            "next_cursor": position,
            "has_more": position < total,
            "resolution_s": on_page,
        }

    def _with_setpoint(device: dict[str, str], at: datetime) -> dict[str, Any]:
        item = device_state(device, at, profiles())
        active = book.active_at(device["device_id"], at)
        if active is not None:
            item["power_kw"] = book.power_kw_at(device, at, item["power_kw"])
            item["setpoint_kw"] = float(active.target_kw)
            item["setpoint_activation_id"] = active.activation_id
        return item

    @service.route("POST", "/api/v1/setpoints")
    def post_setpoints(request: Request) -> tuple[HTTPStatus, Any]:
        body = request.body
        items = body.get("setpoints") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise HttpError(HTTPStatus.BAD_REQUEST, "expected {'setpoints': [...]}")
        if len(items) > MAX_SETPOINTS:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"at most {MAX_SETPOINTS} setpoints a request")
        return HTTPStatus.OK, {"results": book.receive(items, known)}

    @service.route("GET", "/api/v1/setpoints")
    def list_setpoints(request: Request) -> tuple[HTTPStatus, Any]:
        selected = book.listing(request.query.get("activation_id"), request.query.get("device_id"))
        return HTTPStatus.OK, {"setpoints": selected}

    @service.route("GET", "/api/v1/device-states")
    def device_states(request: Request) -> tuple[HTTPStatus, Any]:
        at = _parse_instant("at", request.query.get("at"))
        cursor = _int_param(request, "cursor", 0)
        limit = min(_int_param(request, "limit", STATES_PAGE), MAX_STATES_PAGE)
        if cursor < 0 or limit < 1:
            raise HttpError(HTTPStatus.BAD_REQUEST, "'cursor' must be >= 0 and 'limit' >= 1")
        ids = list(known)[cursor : cursor + limit]
        items = [_with_setpoint(known[device_id], at) for device_id in ids]
        next_cursor = cursor + len(items)
        return HTTPStatus.OK, {
            "at": _utc_text(at),
            "items": items,
            "next_cursor": next_cursor,
            "has_more": next_cursor < len(known),
        }

    return service
