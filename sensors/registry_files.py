"""Notice new or changed registry files in the landing zone and run the registry job."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from assets.registry.onboarding import BATCH_PREFIX
from integrations.settings import LANDING_DIR
from orchestration.jobs import registry_job


def file_fingerprints(folder: Path) -> dict[str, str]:
    """Content hash of every file in the batch folders, by relative path.

    Batches the platform writes itself (device-cloud onboardings) are loaded as they are
    written, so they are not watched.
    """
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.glob("*/*"))
        if path.is_file()
        and not path.name.startswith(".")
        and not path.parent.name.startswith(BATCH_PREFIX)
    }


@dg.sensor(
    name="registry_landing_sensor",
    description="Watches var/landing/registry/<batch>/ for new or changed registry files "
    "and launches the registry job once per new set of file contents.",
    job=registry_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def registry_landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Compare file hashes with the cursor; request a run keyed by the new contents."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = file_fingerprints(LANDING_DIR / "registry")
    new = {path: digest for path, digest in current.items() if seen.get(path) != digest}
    if not new:
        return dg.SensorResult(skip_reason="no new registry files", cursor=json.dumps(current))
    run_key = hashlib.sha256(json.dumps(sorted(new.items())).encode()).hexdigest()
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, tags={"vppal/files": str(len(new))})],
        cursor=json.dumps(current),
    )
