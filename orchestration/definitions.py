"""The single Dagster entry point: merges each package's small ``defs`` with the resources."""

import dagster as dg

import assets.baselines
import assets.bidding
import assets.measurements
import assets.ops
import assets.registry
import assets.validation
import sensors
from assets.dbt_models import dbt_hourly_models, dbt_models
from orchestration import jobs
from orchestration.resources import build_resources

defs = dg.Definitions.merge(
    assets.registry.defs,
    assets.measurements.defs,
    assets.ops.defs,
    assets.baselines.defs,
    assets.bidding.defs,
    assets.validation.defs,
    dg.Definitions(assets=[dbt_models, dbt_hourly_models]),
    jobs.defs,
    sensors.defs,
    dg.Definitions(resources=build_resources()),
)
