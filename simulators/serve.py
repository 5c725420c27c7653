"""Run the outside world on this machine: the TSO and device-cloud simulators."""

from __future__ import annotations

import threading

from integrations.settings import SAMPLE_DATA_DIR
from simulators.device_cloud import build_device_cloud_simulator, load_onboardings
from simulators.service import JsonService
from simulators.tso import build_tso_simulator

ONBOARDINGS_FILE = SAMPLE_DATA_DIR / "device_cloud" / "onboardings.json"


def start_simulators(tso_port: int = 0, device_cloud_port: int = 0) -> list[JsonService]:
    """Start both simulators in background threads (port 0 = any free port)."""
    tso = build_tso_simulator()
    tso.start(tso_port)
    device_cloud = build_device_cloud_simulator(load_onboardings(ONBOARDINGS_FILE))
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
