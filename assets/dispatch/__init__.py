"""Dispatch: activations acknowledged, split over devices, answered (one run per revision)."""

import dagster as dg

from assets.dispatch.activations import dispatch_plan, tso_activations

defs = dg.Definitions(assets=[tso_activations, dispatch_plan])
