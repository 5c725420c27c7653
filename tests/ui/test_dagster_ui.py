"""The operator's cockpit in a real browser: the Dagster UI as a person uses it.

dagster-webserver is started as ``make dev`` starts it (``-m orchestration.definitions``, the
venv's ``bin`` on PATH for dbt) on a free loopback port, on a test database that holds the sample
registry, with an instance of its own: the project's ``dagster.yaml`` with run storage in
``<test database>_dagster`` and the default run coordinator (runs launched from the UI start at
once; the project's queued coordinator needs the daemon, which would also start the sensors).
Headless Chromium then checks the asset graph, materialises the registry group from the UI and
waits for the run on the Runs page. Screenshots go to ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from integrations.database import admin
from integrations.database.urls import database_name, with_database
from integrations.settings import PROJECT_ROOT
from orchestration.instance import QUIET_TELEMETRY

pytestmark = pytest.mark.slow

LOCATION = "orchestration.definitions"
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
START_TIMEOUT_S = 120
RUN_TIMEOUT_S = 600
UI_TIMEOUT_MS = 90_000
#: A dbt model whose page must show its dbt description, column docs, owner and code link.
DOCUMENTED_MODEL = ("marts", "dim_isp")


@dataclass(frozen=True)
class DagsterUi:
    """A running dagster-webserver: its URL and its log (runs launched from it log there too)."""

    url: str
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log, for a failure message."""
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def instance_yaml_for_tests(home: Path) -> Path:
    """The project's instance settings in ``home``, with the default run coordinator."""
    settings = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    settings["run_coordinator"] = {
        "module": "dagster.core.run_coordinator",
        "class": "DefaultRunCoordinator",
    }
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def materialisable_groups() -> list[str]:
    """The asset groups the UI shows: those of every asset that can be materialised."""
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    return sorted({graph.get(key).group_name for key in graph.materializable_asset_keys})


@pytest.fixture
def registry_platform(db_url: str, simulators: dict[str, str], tmp_path: Path) -> Path:
    """A var folder whose landing zone holds the sample registry, loaded into the test database."""
    from sample_platform import build_sample_registry

    var = tmp_path / "var"
    landing = var / "landing"
    landing.mkdir(parents=True)
    _, result = build_sample_registry(db_url, landing)
    assert result.success
    return var


@pytest.fixture
def dagster_ui(db_url: str, registry_platform: Path, tmp_path: Path) -> Iterator[DagsterUi]:
    """dagster-webserver on a free loopback port; yields its base URL, stops it (and its runs)."""
    storage_url = with_database(db_url, f"{database_name(db_url)}_dagster")
    admin.drop_database(storage_url)
    admin.ensure_database(storage_url)
    home = tmp_path / "dagster_home"
    instance_yaml_for_tests(home)
    bin_dir = Path(sys.executable).parent
    port = free_port()
    env = {
        **os.environ,
        **QUIET_TELEMETRY,
        "DAGSTER_HOME": str(home),
        "VPPAL_DAGSTER_STORAGE_URL": storage_url,
        "VPPAL_DAGSTER_ARTIFACTS": str(home / "storage"),
        "VPPAL_DAGSTER_COMPUTE_LOGS": str(home / "logs"),
        "VPPAL_VAR_DIR": str(registry_platform),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log_path = tmp_path / "webserver.log"
    with log_path.open("w", encoding="utf-8") as log:
        server = subprocess.Popen(
            [
                str(bin_dir / "dagster-webserver"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-m",
                LOCATION,
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its code server and runs
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, log_path.read_text(encoding="utf-8")[-4000:]
            try:
                if requests.get(f"{base_url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "dagster-webserver did not answer in time"
            time.sleep(0.5)
        yield DagsterUi(base_url, log_path)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def wait_for_run(page: Any, base_url: str, run_id: str) -> str:
    """The run's status on the Runs page once it has finished (Success, Failure or Canceled)."""
    finished = re.compile("Success|Failure|Canceled")
    page.goto(f"{base_url}/runs")
    link = page.get_by_role("link", name=run_id)
    link.wait_for()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        # the run's row: the innermost block that holds its link and a final status
        row = page.locator("div").filter(has=link).filter(has_text=finished)
        if row.count():
            return finished.findall(row.last.inner_text())[-1]
        page.wait_for_timeout(3000)
        page.reload()
    raise AssertionError(f"run {run_id} did not finish within {RUN_TIMEOUT_S} s")


def test_an_operator_sees_every_group_and_materialises_the_registry_from_the_ui(
    dagster_ui: DagsterUi, page: Any
):
    from playwright.sync_api import expect

    ui = dagster_ui.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)

    # the global asset graph shows one box per group (it picks up new groups by itself)
    groups = materialisable_groups()
    assert "registry" in groups
    page.goto(f"{ui}/asset-groups")
    graph = page.locator("svg foreignObject")
    for group in groups:
        expect(graph.get_by_text(group, exact=True).first).to_be_visible()
    expect(page.get_by_text("fetching statuses")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "asset-groups.png"))

    # the registry group, materialised with its button
    page.goto(f"{ui}/locations/{LOCATION}/asset-groups/registry")
    page.get_by_role("button", name="Materialize all").click()
    launched = re.compile(r"Launched run ([0-9a-f]{8})")
    toast = page.get_by_text(launched)
    expect(toast).to_be_visible()
    match = launched.search(toast.inner_text())
    assert match
    run_id = match.group(1)

    # the Runs page shows it succeed
    status = wait_for_run(page, ui, run_id)
    page.screenshot(path=str(SCREENSHOTS / "registry-run.png"))
    assert status == "Success", f"run {run_id} ended {status}:\n{dagster_ui.log_tail()}"

    # a dbt model explains itself: dbt description, column docs, owner, kinds, link to its SQL
    schema, name = DOCUMENTED_MODEL
    page.goto(f"{ui}/assets/{schema}/{name}")
    for text in (
        "The ISP calendar",
        "Columns",
        "Start of the ISP (inclusive).",
        "Owners",
        "data-platform",
        "Kinds",
        f"{name}.sql",
        "Latest materialization",
    ):
        expect(page.get_by_text(text, exact=False).first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "asset-dim-isp.png"))
