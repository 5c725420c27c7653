"""Registry & pooling: landed files, device-cloud onboardings, TSO registration."""

import dagster as dg

from assets.registry.landing import raw_registry
from assets.registry.onboarding import device_cloud_onboardings
from assets.registry.tso_registration import tso_device_registrations

defs = dg.Definitions(assets=[device_cloud_onboardings, raw_registry, tso_device_registrations])
