"""Partitions shared by assets and jobs."""

import dagster as dg

#: Measurements are loaded, checked and aggregated per UTC hour. An hour holds 4 whole ISPs
#: (Amsterdam's UTC offsets are whole hours), so hourly partitions never split an ISP.
hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date="2025-01-01-00:00", timezone="UTC", end_offset=0
)

#: Bidding looks ahead: the flexibility of an hour must be known before its first gate closes
#: (aFRR and mFRR: 25 minutes before the ISP), so its partitions reach two hours past the
#: current one.
BIDDING_HOURS_AHEAD = 2
bidding_hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date="2025-01-01-00:00", timezone="UTC", end_offset=1 + BIDDING_HOURS_AHEAD
)

#: One partition per accepted activation revision (``<mRID>-r<revision>``), added by
#: ``tso_activation_sensor`` when the intake accepts the document.
activation_partitions = dg.DynamicPartitionsDefinition(name="activations")
