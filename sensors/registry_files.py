"""Notice new or changed registry files in the landing zone and run the registry job."""

import json

import dagster as dg

from assets.registry.onboarding import BATCH_PREFIX
from integrations.settings import LANDING_DIR
from orchestration.jobs import registry_job
from sensors.fingerprints import file_fingerprints, new_files, run_key


def registry_fingerprints() -> dict[str, str]:
    """Hashes of the registry batch files.

    The platform's own device-cloud batches are not watched: they are loaded as written.
    """
    return file_fingerprints(
        LANDING_DIR / "registry",
        "*/*",
        keep=lambda path: not path.parent.name.startswith(BATCH_PREFIX),
    )


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
    current = registry_fingerprints()
    new = new_files(seen, current)
    if not new:
        return dg.SensorResult(skip_reason="no new registry files", cursor=json.dumps(current))
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key(new), tags={"vppal/files": str(len(new))})],
        cursor=json.dumps(current),
    )
