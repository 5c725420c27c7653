"""Browser fixtures: Debian's Chromium (installed with apt-get when missing) driven by Playwright.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` with a fresh
profile. The tests are skipped, with the reason, only where no browser can be installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: Flags that work on these machines (root without a sandbox, no GPU, nothing fetched outside).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
APT_TIMEOUT_S = 900


def _apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    """Run apt-get non-interactively and capture what it says."""
    return subprocess.run(
        ["apt-get", *args],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT_S,
        check=False,
    )


def install_chromium() -> str | None:
    """Install Debian's ``chromium`` package; None when done, else why it could not be."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available on this machine"
    if os.geteuid() != 0:
        return "installing chromium needs root: run `apt-get install -y chromium` as root"
    result = _apt_get("install", "-y", "-q", "chromium")
    if result.returncode != 0:  # a new machine may have no or old package lists
        _apt_get("update", "-q")
        result = _apt_get("install", "-y", "-q", "chromium")
    if result.returncode != 0:
        return f"`apt-get install -y chromium` failed: {result.stderr.strip()[-500:]}"
    return None


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed first if missing; skips only where it cannot be installed."""
    if not CHROMIUM.exists():
        reason = install_chromium()
        if reason is not None or not CHROMIUM.exists():
            pytest.skip(f"no browser for the UI tests: {reason or f'{CHROMIUM} is missing'}")
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright_api() -> Any:
    """``playwright.sync_api``; the tests are skipped when the package is not installed."""
    return pytest.importorskip(
        "playwright.sync_api",
        reason="playwright (Python) is not installed in .venv: run `make install`",
    )


@pytest.fixture
def page(playwright_api: Any, chromium: Path, tmp_path: Path) -> Iterator[Any]:
    """A Playwright page in headless Chromium with a fresh profile (user-data-dir)."""
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
