"""`make docs` builds dbt's documentation site and serves it on loopback; read in Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from integrations.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
START_TIMEOUT_S = 300  # `make prepare` may parse the project first, then generate the catalog
UI_TIMEOUT_MS = 60_000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dbt_docs(db_url: str, tmp_path: Path) -> Iterator[str]:
    """``make docs`` on a free port, against the test database; yields the site's URL."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    port = free_port()
    log_path = tmp_path / "make-docs.log"
    with log_path.open("w", encoding="utf-8") as log:
        server = subprocess.Popen(
            [make, "--no-print-directory", "docs", f"DOCS_PORT={port}"],
            cwd=PROJECT_ROOT,
            env=os.environ.copy(),  # VPPAL_DATABASE_URL: the test database
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make, dbt docs serve and all between stop together
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, log_path.read_text(encoding="utf-8")[-4000:]
            try:
                if requests.get(f"{base_url}/index.html", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "make docs did not serve in time"
            time.sleep(1)
        yield base_url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_make_docs_serves_each_model_with_its_description_and_columns(dbt_docs: str, page: Any):
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    assert requests.get(f"{dbt_docs}/catalog.json", timeout=5).ok
    page.goto(f"{dbt_docs}/#!/model/model.vppal.dim_isp")
    expect(page.get_by_text("The ISP calendar: 15-minute imbalance").first).to_be_visible()
    expect(page.get_by_text("Start of the ISP (inclusive).").first).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dbt-docs-dim-isp.png"))
