"""Run the outside world on this machine: the TSO and device-cloud simulators."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from integrations.settings import SAMPLE_DATA_DIR
from simulators.activation_feed import ActivationFeed
from simulators.device_cloud import build_device_cloud_simulator, load_onboardings
from simulators.profiles import DEVICE_TYPES
from simulators.service import JsonService
from simulators.setpoints import SetpointBook
from simulators.tso import build_tso_simulator

ONBOARDINGS_FILE = SAMPLE_DATA_DIR / "device_cloud" / "onboardings.json"
REGISTRY_DIR = SAMPLE_DATA_DIR / "registry"


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _positive(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def load_sample_fleet(
    registry_dir: Path = REGISTRY_DIR,
) -> tuple[list[dict[str, str]], frozenset[str]]:
    """The sample fleet's devices and the ids of those in an aFRR pool, from the registry batches.

    Batches are read in name order; a later batch overrides a device by ``device_id`` and a
    membership by (device_id, pool_id, valid_from). Rows with an unknown ``device_type`` or a
    ``rated_power_kw`` that is not > 0 are skipped (an earlier valid row of the id stays). A
    device is aFRR-capable when it has an open-ended membership (empty ``valid_to``) in a pool
    whose market is ``afrr``.
    """
    devices: dict[str, dict[str, str]] = {}
    markets: dict[str, str] = {}
    memberships: dict[tuple[str, str, str], dict[str, str]] = {}
    for batch in sorted(path for path in registry_dir.iterdir() if path.is_dir()):
        for row in _rows(batch / "devices.csv"):
            if row["device_type"] in DEVICE_TYPES and _positive(row["rated_power_kw"]):
                devices[row["device_id"]] = row
        for row in _rows(batch / "pools.csv"):
            markets[row["pool_id"]] = row["market"]
        for row in _rows(batch / "memberships.csv"):
            memberships[(row["device_id"], row["pool_id"], row["valid_from"])] = row
    afrr = frozenset(
        row["device_id"]
        for row in memberships.values()
        if not (row.get("valid_to") or "").strip()
        and markets.get(row["pool_id"]) == "afrr"
        and row["device_id"] in devices
    )
    return sorted(devices.values(), key=lambda row: row["device_id"]), afrr


def start_simulators(
    tso_port: int = 0,
    device_cloud_port: int = 0,
    tso_clock: Callable[[], datetime] | None = None,
    activations: ActivationFeed | None = None,
    setpoints: SetpointBook | None = None,
) -> list[JsonService]:
    """Start both simulators in background threads (port 0 = any free port).

    The device cloud knows the sample fleet's devices (``data/sample/registry``) and streams
    the aFRR pool members at 4 s on request. ``tso_clock`` is the TSO's time of receipt
    (default: the system clock); a replay passes a ``simulators.clock.ReplayClock``.
    ``activations`` (the TSO's activation feed) and ``setpoints`` (the device cloud's setpoint
    book) default to fresh ones; pass your own to publish activations or fail devices.
    """
    tso = build_tso_simulator(clock=tso_clock, activations=activations)
    tso.start(tso_port)
    devices, afrr_devices = load_sample_fleet()
    device_cloud = build_device_cloud_simulator(
        load_onboardings(ONBOARDINGS_FILE),
        devices=devices,
        afrr_devices=afrr_devices,
        setpoints=setpoints,
    )
    device_cloud.start(device_cloud_port)
    return [tso, device_cloud]


def serve_simulators(tso_port: int, device_cloud_port: int) -> int:
    """Serve both simulators until interrupted."""
    services = start_simulators(tso_port, device_cloud_port)
    for service in services:
        print(f"{service.name}: {service.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for service in services:
            service.stop()
    return 0
