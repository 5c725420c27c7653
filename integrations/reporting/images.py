"""Images for Dagster metadata: saved under var/reports and embedded as markdown."""

from __future__ import annotations

import base64
from pathlib import Path

from integrations.settings import VAR_DIR

REPORTS_DIR = VAR_DIR / "reports"


def save_report_image(png: bytes, *parts: str) -> Path:
    """Write ``png`` to ``var/reports/<parts...>`` (folders created); return the path."""
    path = REPORTS_DIR.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


def markdown_image(png: bytes, alt: str) -> str:
    """The PNG inline as a markdown image (a data URI), which the Dagster UI renders."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
