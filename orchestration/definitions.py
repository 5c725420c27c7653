"""The single Dagster entry point: merges each package's small ``defs`` with the resources.

Every asset links to its code in the UI: the Python function that computes it
(``with_source_code_references``) and, for dbt models, the model's SQL file (the translator).
"""

from __future__ import annotations

import warnings

import dagster as dg

import assets.baselines
import assets.bidding
import assets.dispatch
import assets.measurements
import assets.ops
import assets.registry
import assets.settlement
import assets.validation
import sensors
from assets.dbt_models import dbt_hourly_models, dbt_models
from orchestration import jobs
from orchestration.resources import build_resources


def with_code_references(merged: dg.Definitions) -> dg.Definitions:
    """``merged`` with every asset linked to the function that computes it (file and line).

    The code-reference API is marked beta/preview in Dagster; its warnings would repeat in
    every run's and every UI reload's log, so they are silenced here only.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        linked = dg.with_source_code_references(list(merged.assets or []))
        metadata = {
            spec.key: spec.metadata
            for assets_def in linked
            if isinstance(assets_def, dg.AssetsDefinition)
            for spec in assets_def.specs
        }
        return merged.map_asset_specs(
            func=lambda spec: spec.replace_attributes(
                metadata=metadata.get(spec.key, spec.metadata)
            )
        )


defs = with_code_references(
    dg.Definitions.merge(
        assets.registry.defs,
        assets.measurements.defs,
        assets.ops.defs,
        assets.baselines.defs,
        assets.bidding.defs,
        assets.dispatch.defs,
        assets.validation.defs,
        assets.settlement.defs,
        dg.Definitions(assets=[dbt_models, dbt_hourly_models]),
        jobs.defs,
        sensors.defs,
        dg.Definitions(resources=build_resources()),
    )
)
