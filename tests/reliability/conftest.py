"""Fixtures of the reliability tests: simulators of their own, so armed faults stay here.

The session's ``simulators`` (tests/conftest.py) are shared with every other test; a fault
armed on them could leak into another module. These fixtures start a TSO simulator or a
device-cloud simulator per module, with every request recorded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.activation_feed import ActivationFeed
from simulators.service import JsonService


@pytest.fixture(scope="module")
def faulty_tso_feed() -> ActivationFeed:
    """The activation feed of the module's TSO simulator (tests publish through it)."""
    from integrations.secrets import load_tso_signing_key

    return ActivationFeed(signing_key=load_tso_signing_key)


@pytest.fixture(scope="module")
def faulty_tso(faulty_tso_feed: ActivationFeed) -> Iterator[JsonService]:
    """A TSO simulator of this module's own, recording every request it receives."""
    from simulators.tso import build_tso_simulator

    service = build_tso_simulator(activations=faulty_tso_feed)
    service.faults.record = True
    service.start()
    yield service
    service.stop()


@pytest.fixture
def fault_free(faulty_tso: JsonService) -> Iterator[JsonService]:
    """The module's TSO simulator with no fault armed and no request remembered, before and
    after the test."""
    faulty_tso.faults.clear()
    yield faulty_tso
    faulty_tso.faults.clear()


@pytest.fixture(scope="module")
def faulty_device_cloud() -> Iterator[JsonService]:
    """A device-cloud simulator (the sample fleet) of this module's own, recording requests."""
    from simulators.device_cloud import build_device_cloud_simulator, load_onboardings
    from simulators.serve import ONBOARDINGS_FILE, load_sample_fleet

    devices, afrr_devices = load_sample_fleet()
    service = build_device_cloud_simulator(
        load_onboardings(ONBOARDINGS_FILE), devices=devices, afrr_devices=afrr_devices
    )
    service.faults.record = True
    service.start()
    yield service
    service.stop()
