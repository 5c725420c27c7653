"""``make dev``: the Dagster UI (webserver and daemon) on 127.0.0.1 with the project's instance."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from integrations.database.admin import prepare_database
from integrations.settings import PROJECT_ROOT
from orchestration.instance import use_project_instance


def run_dev(port: int) -> int:
    """Prepare the database, then replace this process with ``dagster dev``."""
    prepare_database()
    use_project_instance()
    bin_dir = Path(sys.executable).parent
    dagster = str(bin_dir / "dagster")
    # dagster-dbt prepares the manifest under `dagster dev` with the `dbt` found on PATH.
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    os.chdir(PROJECT_ROOT)
    os.execv(
        dagster,
        [dagster, "dev", "-h", "127.0.0.1", "-p", str(port), "-m", "orchestration.definitions"],
    )
    return 0  # not reached
