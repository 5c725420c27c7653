"""The one Definitions entry point loads and holds what the UI and schedules need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from integrations.settings import PROJECT_ROOT

#: The flows' asset groups: the UI's sections, one per flow plus ops (issue 9).
ALLOWED_GROUPS = {
    "registry",
    "measurements",
    "baselines",
    "bidding",
    "dispatch",
    "validation",
    "settlement",
    "ops",
}


def explanation_gaps(spec: dg.AssetSpec) -> list[str]:
    """What an asset lacks to explain itself in the UI (empty when nothing)."""
    gaps = []
    if spec.group_name not in ALLOWED_GROUPS:
        gaps.append(f"group {spec.group_name!r} is not one of {sorted(ALLOWED_GROUPS)}")
    if not (spec.description or "").strip():
        gaps.append("no description")
    if not spec.owners:
        gaps.append("no owner")
    for owner in spec.owners:
        if not (owner.startswith("team:") or "@" in owner):
            gaps.append(f"owner {owner!r} is neither team:<name> nor an e-mail address")
    if not spec.kinds:
        gaps.append("no kind tags")
    references = spec.metadata.get("dagster/code_references")
    if references is None or not references.code_references:
        gaps.append("no link to its code")
    else:
        for reference in references.code_references:
            path = getattr(reference, "file_path", None)
            if path is not None and not Path(path).is_file():
                gaps.append(f"code reference {path} is not a file")
    return gaps


def test_every_asset_explains_itself_group_description_owner_kinds_and_code():
    from orchestration.definitions import defs

    specs = list(defs.resolve_all_asset_specs())
    assert len(specs) >= 25
    gaps = {
        spec.key.to_user_string(): problems
        for spec in specs
        if (problems := explanation_gaps(spec))
    }
    assert not gaps, "assets that do not explain themselves:\n" + "\n".join(
        f"  {key}: {', '.join(problems)}" for key, problems in sorted(gaps.items())
    )


def test_the_check_finds_an_asset_that_explains_nothing():
    bare = dg.AssetSpec("bare", group_name="calendar")
    gaps = explanation_gaps(bare)
    assert any("group 'calendar'" in gap for gap in gaps)
    assert {"no description", "no owner", "no kind tags", "no link to its code"} <= set(gaps)


def test_python_assets_link_to_their_function_and_dbt_models_to_their_sql():
    from orchestration.definitions import defs

    def files(key: dg.AssetKey) -> set[str]:
        spec = next(s for s in defs.resolve_all_asset_specs() if s.key == key)
        references = spec.metadata["dagster/code_references"].code_references
        return {Path(r.file_path).relative_to(PROJECT_ROOT).as_posix() for r in references}

    assert "assets/registry/onboarding.py" in files(
        dg.AssetKey(["landing", "device_cloud_onboardings"])
    )
    assert "dbt_project/models/marts/registry/dim_devices.sql" in files(
        dg.AssetKey(["marts", "dim_devices"])
    )


def test_dbt_models_carry_their_dbt_description_and_column_docs():
    from integrations.dbt_project import dbt_project
    from orchestration.definitions import defs

    manifest = json.loads(dbt_project().manifest_path.read_text(encoding="utf-8"))
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    models = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] != "ephemeral"
    ]
    assert models
    for node in models:
        spec = specs[dg.AssetKey([node["schema"], node["name"]])]
        assert node["description"].strip(), f"dbt model {node['name']} has no description"
        assert (spec.description or "").startswith(node["description"].strip()), node["name"]
        documented = {
            name: column["description"]
            for name, column in node["columns"].items()
            if column.get("description")
        }
        if documented:
            schema = spec.metadata["dagster/column_schema"]
            shown = {column.name: column.description for column in schema.columns}
            for name, description in documented.items():
                assert shown.get(name) == description, f"{node['name']}.{name}"


def test_every_job_schedule_and_sensor_says_what_it_does():
    from orchestration.definitions import defs

    named = [*(defs.jobs or []), *(defs.schedules or []), *(defs.sensors or [])]
    assert len(named) >= 10
    silent = [item.name for item in named if not (item.description or "").strip()]
    assert not silent, f"jobs, schedules or sensors without a description: {silent}"


def test_the_code_location_loads_as_the_ui_loads_it(tmp_path: Path):
    # `make dev` and dagster-webserver load the module with Dagster's own loader, which refuses
    # e.g. a second Definitions object at module scope; importing `defs` does not see that.
    (tmp_path / "dagster.yaml").write_text("", encoding="utf-8")
    dagster = str(Path(sys.executable).parent / "dagster")
    result = subprocess.run(
        [dagster, "definitions", "validate", "-m", "orchestration.definitions"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


def test_dbt_models_are_assets_and_dbt_tests_are_asset_checks():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    contract_marts = [
        "dim_locations",
        "dim_sites",
        "dim_devices",
        "dim_pools",
        "fct_device_pool_membership",
        "site_market_status",
    ]
    for name in contract_marts:
        assert dg.AssetKey(["marts", name]) in graph.get_all_asset_keys()
    checked = {key.asset_key for key in graph.asset_check_keys}
    assert dg.AssetKey(["marts", "dim_devices"]) in checked


def test_the_registry_job_sensor_and_schedule_are_defined():
    from orchestration.definitions import defs

    assert defs.resolve_job_def("registry_job")
    assert defs.resolve_sensor_def("registry_landing_sensor").job_name == "registry_job"
    assert defs.resolve_schedule_def("device_cloud_onboarding_schedule")


def test_devices_wait_for_the_device_cloud_onboardings():
    from orchestration.definitions import defs

    parents = (
        defs.resolve_asset_graph()
        .get(dg.AssetKey(["staging", "stg_registry__devices"]))
        .parent_keys
    )
    assert dg.AssetKey(["landing", "device_cloud_onboardings"]) in parents


def test_the_flexibility_of_the_hour_after_next_is_computed_before_its_gates():
    from datetime import UTC, datetime, timedelta

    from orchestration.definitions import defs
    from orchestration.partitions import bidding_hourly_partitions

    schedule = defs.resolve_schedule_def("pool_flex_schedule")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    at = hour + timedelta(minutes=30)
    [request] = schedule.evaluate_tick(
        dg.build_schedule_context(
            scheduled_execution_time=at, repository_def=defs.get_repository_def()
        )
    ).run_requests
    target = hour + timedelta(hours=2)
    assert request.partition_key == f"{target:%Y-%m-%d-%H:%M}"
    # the hour after next is a partition already (its first aFRR gate closes at :35 next hour);
    # the hour after that is not yet
    assert bidding_hourly_partitions.has_partition_key(request.partition_key)
    assert not bidding_hourly_partitions.has_partition_key(
        f"{target + timedelta(hours=1):%Y-%m-%d-%H:%M}"
    )
