"""Operations: alerts raised from the data, and the record of documents sent to the TSO."""

import dagster as dg

from assets.ops.site_conflict_alerts import site_market_conflict_alerts
from assets.ops.tso_submissions import tso_submissions

defs = dg.Definitions(assets=[site_market_conflict_alerts, tso_submissions])
