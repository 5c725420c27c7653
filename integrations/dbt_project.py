"""The dbt project as Dagster sees it: one cached ``DbtProject`` and the asset translator."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from integrations.settings import DBT_PROJECT_DIR, current_environment

#: Device versions arrive from files and from the device cloud's onboardings, which the
#: onboarding asset loads into the same raw table after the registry files.
EXTRA_UPSTREAMS: dict[dg.AssetKey, list[dg.AssetKey]] = {
    dg.AssetKey(["staging", "stg_registry__devices"]): [
        dg.AssetKey(["landing", "device_cloud_onboardings"])
    ],
}
#: Folders whose models belong to another flow's group: the ISP calendar is reference data,
#: built with the registry (registry_job) and read by every flow.
GROUP_OF_FOLDER: dict[str, str] = {
    "calendar": "registry",
    "delivery": "settlement",  # delivery and the finance tables: the settlement flow
    "finance": "settlement",
}
#: Who answers for a dbt asset, unless its dbt ``meta`` names ``dagster: {owners: [...]}``.
DEFAULT_OWNERS: dict[str, list[str]] = {"ops": ["team:operations"]}
DEFAULT_OWNER = "team:data-platform"


@cache
def dbt_project() -> DbtProject:
    """The project, built once; its manifest is prepared by ``make prepare`` (``dbt parse``)."""
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target=current_environment().value,
    )
    project.prepare_if_dev()
    return project


class VppalDbtTranslator(DagsterDbtTranslator):
    """Keys are ``[schema, name]`` (``marts/dim_devices``); groups follow the domain folder."""

    def __init__(self) -> None:
        """Turn dbt tests into asset checks; link each model to its SQL file."""
        super().__init__(
            settings=DagsterDbtTranslatorSettings(
                enable_asset_checks=True, enable_code_references=True
            )
        )

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        """The default spec, plus upstreams that write a source table outside dbt's view."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        extra = EXTRA_UPSTREAMS.get(spec.key)
        return spec.merge_attributes(deps=extra) if extra else spec

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        """Sources and models alike: ``[schema, table]``, as the tables are named in Postgres.

        A source whose table a Python asset of another name writes names that asset in its
        ``meta: {dagster: {asset_key: [...]}}`` (``raw.bids`` is written by ``outbox/tso_bids``).
        """
        meta = dbt_resource_props.get("meta") or {}
        key = (meta.get("dagster") or {}).get("asset_key")
        if key:
            return dg.AssetKey(list(key))
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """``models/<layer>/<domain>/...`` → group ``<domain>``; sources by their source name."""
        if dbt_resource_props["resource_type"] == "source":
            return dbt_resource_props["source_name"]
        fqn = dbt_resource_props.get("fqn", [])
        folder = fqn[2] if len(fqn) > 3 else "dbt"
        return GROUP_OF_FOLDER.get(folder, folder)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        """The owners in the dbt ``meta``, else the group's team, else the data platform team."""
        owners = super().get_owners(dbt_resource_props)
        if owners:
            return list(owners)
        group = self.get_group_name(dbt_resource_props) or ""
        return DEFAULT_OWNERS.get(group, [DEFAULT_OWNER])
