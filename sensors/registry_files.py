"""Notice new or changed registry files in the landing zone and run the registry job."""

import dagster as dg

from assets.registry.onboarding import BATCH_PREFIX
from integrations.settings import LANDING_DIR
from orchestration.jobs import registry_job
from sensors.fingerprints import file_fingerprints, landing_sensor_result


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
    return landing_sensor_result(context.cursor, registry_fingerprints(), "registry files")
