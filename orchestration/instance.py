"""Environment for the project's Dagster instance (``dagster.yaml`` at the project root)."""

from __future__ import annotations

import os

from integrations.database.urls import dagster_storage_url
from integrations.settings import PROJECT_ROOT, VAR_DIR

QUIET_TELEMETRY = {
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
}


def instance_environment() -> dict[str, str]:
    """Variables that point Dagster at the project's instance, storage on PostgreSQL."""
    dagster_dir = VAR_DIR / "dagster"
    return {
        **QUIET_TELEMETRY,
        "DAGSTER_HOME": str(PROJECT_ROOT),
        "VPPAL_DAGSTER_STORAGE_URL": dagster_storage_url(),
        "VPPAL_DAGSTER_ARTIFACTS": str(dagster_dir / "storage"),
        "VPPAL_DAGSTER_COMPUTE_LOGS": str(dagster_dir / "logs"),
    }


def use_project_instance() -> None:
    """Export :func:`instance_environment` into this process (and its children)."""
    os.environ.update(instance_environment())
