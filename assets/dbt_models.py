"""All dbt models as Dagster assets, dbt tests as asset checks (one ``@dbt_assets``)."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from integrations.database.resource import PostgresResource
from integrations.dbt_project import VppalDbtTranslator, dbt_project


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=VppalDbtTranslator(),
)
def dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, postgres: PostgresResource
) -> Iterator[Any]:
    """``dbt build`` of the selected models: unit tests, models and data tests in DAG order."""
    postgres.export_for_dbt()
    yield from dbt.cli(["build"], context=context).stream()
