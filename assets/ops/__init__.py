"""Operations: alerts raised from the data."""

import dagster as dg

from assets.ops.site_conflict_alerts import site_market_conflict_alerts

defs = dg.Definitions(assets=[site_market_conflict_alerts])
