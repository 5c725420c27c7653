"""Helpers shared by the tests that run jobs on the bundled sample (import them by name:
``from sample_platform import build_sample_registry``; a module of its own, because test
folders may hold conftest.py files of their own, which makes ``import conftest`` ambiguous).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from integrations.settings import SAMPLE_DATA_DIR


def empty_platform_tables(url: str) -> None:
    """Empty every table the registry flow writes (raw, pii, ops), and the bids and dispatch
    plans that point at its pools and devices (their marts test those references)."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(
            "truncate raw.registry_files, raw.registry_customers, raw.registry_locations,"
            " raw.registry_sites, raw.registry_devices, raw.registry_pools,"
            " raw.registry_memberships, raw.registry_contracts, pii.customers, ops.quarantine,"
            " ops.alerts, ops.tso_registrations, ops.source_cursors, raw.pool_flex_isp,"
            " raw.pool_flex_ladder, raw.bids, raw.dispatch_setpoints, raw.dispatch_runs,"
            " raw.activation_documents, raw.tso_activations restart identity cascade"
        )


def run_registry_job(landing: Path):
    """Run registry_job in process on an ephemeral instance, reading batches from ``landing``."""
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.resources import build_resources

    return defs.resolve_job_def("registry_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        resources=build_resources(),
        run_config={
            "ops": {
                "raw_registry": {"config": {"folder": str(landing)}},
                "landing__device_cloud_onboardings": {"config": {"landing_folder": str(landing)}},
            }
        },
    )


def build_sample_registry(url: str, folder: Path):
    """Copy the bundled registry under ``folder``, empty the platform tables, run registry_job.

    Returns (landing folder, run result).
    """
    landing = folder / "registry"
    shutil.copytree(SAMPLE_DATA_DIR / "registry", landing)
    empty_platform_tables(url)
    return landing, run_registry_job(landing)
