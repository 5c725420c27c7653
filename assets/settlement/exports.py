"""CSV and Parquet exports of the finance tables for the finance team, one folder per day."""

import dagster as dg
from pydantic import Field

from assets.settlement.partitions import settlement_daily_partitions
from integrations.database.resource import PostgresResource

FINANCE_EXPORTS = dg.AssetKey(["exports", "finance"])


class FinanceExportsConfig(dg.Config):
    """Where the exports go."""

    folder: str = Field(
        default="",
        description="Root of the day folders; empty = var/exports/finance (under VPPAL_VAR_DIR).",
    )


FINANCE_TABLES = [
    dg.AssetKey(["finance", "settlement_tso_isp"]),
    dg.AssetKey(["finance", "settlement_prosumer_isp"]),
    dg.AssetKey(["finance", "prosumer_statements"]),
]


@dg.asset(
    key=FINANCE_EXPORTS,
    group_name="settlement",
    partitions_def=settlement_daily_partitions,
    deps=FINANCE_TABLES,
    kinds={"python", "csv", "parquet"},
    owners=["team:data-platform"],
)
def finance_exports(
    context: dg.AssetExecutionContext, config: FinanceExportsConfig, postgres: PostgresResource
) -> dg.MaterializeResult:
    """Every finance table's rows of the day as CSV and Parquet in var/exports/finance/<day>/.

    The ISP tables with all their versions, the statement versions the day's runs created,
    and a manifest with row counts, file hashes and the runs' input digests. Written after the
    finance models and their tests (the reconciliation) have passed in the same run.
    """
    from datetime import date
    from pathlib import Path

    from integrations.settlement.exports import export_day

    local_date = date.fromisoformat(context.partition_key)
    exported = export_day(postgres.url, local_date, Path(config.folder) if config.folder else None)
    folder = exported[0].csv_path.parent
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(folder)),
            **{e.table: dg.MetadataValue.int(e.rows) for e in exported},
        }
    )
