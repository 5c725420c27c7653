"""The settlement's partitions: Europe/Amsterdam market days."""

import dagster as dg

#: One partition per local market day (23, 24 or 25 hours; 92, 96 or 100 ISPs), from the
#: platform's first day; a day is a partition once it has ended.
settlement_daily_partitions = dg.DailyPartitionsDefinition(
    start_date="2025-01-01", timezone="Europe/Amsterdam", end_offset=0
)


def on_all_partitions(*keys: dg.AssetKey) -> list[dg.AssetDep]:
    """Dependencies on assets partitioned by UTC hour, by activation, or not at all.

    Dagster maps time partitions only between equal time zones, so an Amsterdam day cannot
    name its UTC hours (nor its activations): lineage is shown on the whole upstream asset,
    and which hours a day needs (and whether they passed their checks) is decided by
    ``integrations.settlement.readiness``.
    """
    return [dg.AssetDep(key, partition_mapping=dg.AllPartitionMapping()) for key in keys]
