"""The dbt project as Dagster assets, split only by selector: hourly-partitioned models apart.

dbt tests become asset checks. The partitioned models get the partition's time window as the
vars ``min_ts`` / ``max_ts`` and rebuild exactly that window.
"""

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from integrations.database.resource import PostgresResource
from integrations.dbt_project import VppalDbtTranslator, dbt_project
from orchestration.partitions import hourly_partitions

HOURLY_SELECTOR = "tag:partitioned_hourly"


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=VppalDbtTranslator(),
    exclude=HOURLY_SELECTOR,
)
def dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, postgres: PostgresResource
) -> Iterator[Any]:
    """``dbt build`` of the selected models: unit tests, models and data tests in DAG order.

    Tests run when all the models they read are selected (``cautious``): a relationship test
    from an hourly mart to ``dim_isp`` belongs to the hourly build, not to a registry build
    that may run before the hourly marts exist.
    """
    postgres.export_for_dbt()
    yield from dbt.cli(["build", "--indirect-selection", "cautious"], context=context).stream()


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=VppalDbtTranslator(),
    select=HOURLY_SELECTOR,
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    name="dbt_hourly_models",
)
def dbt_hourly_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, postgres: PostgresResource
) -> Iterator[Any]:
    """``dbt build`` of the hourly models for the partition window (one run for a range).

    A window of many hours takes minutes: each model built is counted in the run's log (and by
    ``vppal demo``), ``dbt models 3/6 models · … · elapsed``.
    """
    from integrations.progress import Progress, relay

    postgres.export_for_dbt()
    window = context.partition_time_window
    dbt_vars = {"min_ts": window.start.isoformat(), "max_ts": window.end.isoformat()}
    models = len(context.selected_asset_keys)
    progress = Progress("dbt models", models, "models", relay(context.log.info))
    for event in dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream():
        if isinstance(event, dg.Output):
            progress.advance(note=event.output_name)
        elif isinstance(event, dg.AssetMaterialization):
            progress.advance(note=event.asset_key.to_user_string())
        yield event
