"""Where the project keeps its files, and the one environment switch (local / ci / prod)."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VPPAL_VAR_DIR", PROJECT_ROOT / "var")).resolve()
LANDING_DIR = VAR_DIR / "landing"
OUTBOX_DIR = VAR_DIR / "outbox"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SAMPLE_DATA_DIR = PROJECT_ROOT / "data" / "sample"


class Environment(StrEnum):
    """Deployment environments; each maps to a dbt target of the same name."""

    LOCAL = "local"
    CI = "ci"
    PROD = "prod"


def current_environment() -> Environment:
    """Read ``VPPAL_ENV`` (default ``local``) and refuse values we do not know."""
    raw = os.environ.get("VPPAL_ENV", Environment.LOCAL.value).strip().lower()
    try:
        return Environment(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in Environment)
        raise ValueError(f"VPPAL_ENV={raw!r} is not one of: {allowed}") from None
