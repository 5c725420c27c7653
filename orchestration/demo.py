"""``make demo``: the registry job end to end on the bundled sample, then a summary."""

from __future__ import annotations

import os
import shutil
import time

from integrations.database.admin import prepare_database
from integrations.settings import LANDING_DIR, SAMPLE_DATA_DIR
from integrations.summary import summary_text
from orchestration.instance import use_project_instance
from simulators.serve import start_simulators


def land_sample_registry() -> int:
    """Copy the bundled registry batches into the landing zone; return the files copied."""
    source = SAMPLE_DATA_DIR / "registry"
    target = LANDING_DIR / "registry"
    shutil.copytree(source, target, dirs_exist_ok=True)
    return sum(1 for path in source.rglob("*.csv"))


def run_demo() -> int:
    """Start the database and simulators, land the sample, run the registry job, summarise."""
    started = time.monotonic()
    print("[1/4] database", flush=True)
    url = prepare_database(lambda line: print(f"      {line}", flush=True))
    use_project_instance()
    print("[2/4] simulators and sample data", flush=True)
    tso, device_cloud = start_simulators()
    os.environ["VPPAL_TSO_URL"] = tso.url
    os.environ["VPPAL_DEVICE_CLOUD_URL"] = device_cloud.url
    print(f"      TSO simulator {tso.url}, device cloud simulator {device_cloud.url}")
    print(f"      {land_sample_registry()} registry files landed in {LANDING_DIR / 'registry'}")
    print("[3/4] registry_job (onboardings, intake, dbt build with tests, alerts, TSO)", flush=True)
    import dagster as dg

    from orchestration.definitions import defs

    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("registry_job").execute_in_process(
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=False,
        )
    for service in (tso, device_cloud):
        service.stop()
    if not result.success:
        print(f"registry_job failed (run {result.run_id}); see `make dev` → Runs for the logs")
        return 1
    print(f"      run {result.run_id} succeeded in {time.monotonic() - started:.1f} s", flush=True)
    print("[4/4] summary\n", flush=True)
    print(summary_text(url))
    return 0
