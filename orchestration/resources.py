"""Resources per environment (local / ci / prod): the one switch, ``VPPAL_ENV``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource

from integrations.clock import PlatformClock
from integrations.database.resource import PostgresResource
from integrations.dbt_project import dbt_project
from integrations.device_cloud_client import DeviceCloudClient
from integrations.settings import Environment, current_environment
from integrations.tso_client import TsoClient


def build_resources(environment: Environment | None = None) -> dict[str, Any]:
    """Resources for ``environment``; outside systems' URLs always come from the environment."""
    environment = environment or current_environment()

    return {
        "postgres": PostgresResource(),
        "dbt": DbtCliResource(
            project_dir=dbt_project(),
            target=environment.value,
            # The environment's own dbt, whether or not its bin/ is on PATH.
            dbt_executable=str(Path(sys.executable).parent / "dbt"),
        ),
        "tso": TsoClient(
            base_url=dg.EnvVar("VPPAL_TSO_URL").get_value("http://127.0.0.1:8701") or "",
        ),
        "clock": PlatformClock(),
        "device_cloud": DeviceCloudClient(
            base_url=dg.EnvVar("VPPAL_DEVICE_CLOUD_URL").get_value("http://127.0.0.1:8702") or "",
        ),
    }
