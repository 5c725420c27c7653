"""Shared fixtures: a real PostgreSQL database per test session, simulators, the dbt manifest.

Tests use the project's embedded server (started if needed) or, when VPPAL_DATABASE_URL is set,
that server; either way in a database of their own, ``vppal_test``, dropped and created anew at
the start of the session. Nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.instance import QUIET_TELEMETRY

os.environ.update(QUIET_TELEMETRY)
os.environ.setdefault("VPPAL_ENV", "ci")

from sample_platform import empty_platform_tables

from integrations.database import admin
from integrations.database.urls import (
    EXTERNAL_URL_VARIABLE,
    database_url,
    external_url,
    with_database,
)
from integrations.settings import DBT_PROJECT_DIR, SAMPLE_DATA_DIR
from simulators.clock import ReplayClock

#: One database per test session; override to run two sessions side by side on one server.
TEST_DATABASE = os.environ.get("VPPAL_TEST_DATABASE", "vppal_test")


def _ensure_manifest() -> None:
    if not (DBT_PROJECT_DIR / "target" / "manifest.json").exists():
        dbt = str(Path(sys.executable).parent / "dbt")
        subprocess.run(
            [dbt, "parse", "--quiet", "--profiles-dir", "."], cwd=DBT_PROJECT_DIR, check=True
        )


_ensure_manifest()


@pytest.fixture(scope="session")
def db_url() -> Iterator[str]:
    """URL of a fresh, migrated test database; exported as VPPAL_DATABASE_URL for the session."""
    if external_url() is None:
        admin.prepare_database(lambda _line: None)  # as `vppal db start`: server and databases
    base = database_url()
    url = with_database(base, TEST_DATABASE)
    admin.drop_database(url)
    admin.ensure_database(url)
    admin.migrate(url)
    previous = os.environ.get(EXTERNAL_URL_VARIABLE)
    os.environ[EXTERNAL_URL_VARIABLE] = url
    yield url
    if previous is None:
        os.environ.pop(EXTERNAL_URL_VARIABLE, None)
    else:
        os.environ[EXTERNAL_URL_VARIABLE] = previous


@pytest.fixture
def clean_db(db_url: str) -> str:
    """The test database with the registry, quarantine and alert tables emptied."""
    empty_platform_tables(db_url)
    return db_url


@pytest.fixture(scope="session")
def tso_clock() -> Iterator[ReplayClock]:
    """The TSO simulator's clock: the system time unless a test replays an instant."""
    clock = ReplayClock()
    yield clock
    clock.set(None)


@pytest.fixture(scope="session")
def activation_feed(tso_clock: ReplayClock):
    """The TSO simulator's activation feed (tests publish activations through it)."""
    from integrations.secrets import load_tso_signing_key
    from simulators.activation_feed import ActivationFeed

    return ActivationFeed(clock=tso_clock, signing_key=load_tso_signing_key)


@pytest.fixture(scope="session")
def setpoint_book():
    """The device-cloud simulator's setpoint book (tests make devices fail through it)."""
    from simulators.setpoints import SetpointBook

    return SetpointBook()


@pytest.fixture(scope="session")
def simulators(
    tso_clock: ReplayClock, activation_feed: object, setpoint_book: object
) -> Iterator[dict[str, str]]:
    """The TSO and device-cloud simulators on free ports; their URLs exported for resources."""
    from simulators.serve import start_simulators

    tso, device_cloud = start_simulators(
        tso_clock=tso_clock,
        activations=activation_feed,  # type: ignore[arg-type]
        setpoints=setpoint_book,  # type: ignore[arg-type]
    )
    urls = {"VPPAL_TSO_URL": tso.url, "VPPAL_DEVICE_CLOUD_URL": device_cloud.url}
    os.environ.update(urls)
    yield urls
    for service in (tso, device_cloud):
        service.stop()


@pytest.fixture
def sample_landing(tmp_path: Path) -> Path:
    """A landing folder holding a copy of the bundled sample registry batches."""
    target = tmp_path / "landing" / "registry"
    shutil.copytree(SAMPLE_DATA_DIR / "registry", target)
    return target
