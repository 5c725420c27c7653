"""TenneT's settlement prices, loaded into ``raw.settlement_prices`` once per file content."""

import dagster as dg
from pydantic import Field

from integrations.database.resource import PostgresResource

SETTLEMENT_PRICES = dg.AssetKey(["raw", "settlement_prices"])


class SettlementPricesConfig(dg.Config):
    """Where the price files are."""

    folders: list[str] = Field(
        default_factory=list,
        description="Folders of TenneT settlement-price CSV files, read in this order; empty ="
        " the bundled data/tennet/settlement_prices/ then var/landing/prices/tennet/.",
    )


@dg.asset(
    key=SETTLEMENT_PRICES,
    group_name="settlement",
    kinds={"python", "csv", "postgres"},
    owners=["team:data-platform"],
)
def settlement_prices(
    context: dg.AssetExecutionContext, config: SettlementPricesConfig, postgres: PostgresResource
) -> dg.MaterializeResult:
    """TenneT's settlement prices per ISP (dispatch up/down, shortage, surplus), versioned.

    Each file is loaded once per content; a row is stored when it differs from the price in
    force for its ISP, so a revised publication adds a version (and re-settles the days it
    changes) while the earlier prices stay. The settlement sensor sees a day's prices as known
    once every ISP of the day has one.
    """
    from pathlib import Path

    from integrations.settlement.prices import default_price_folders, load_price_folders

    folders = [Path(folder) for folder in config.folders] or default_price_folders()
    loads = load_price_folders(postgres.url, folders)
    for load in loads:
        context.log.info(
            "%s: %s",
            load.file_name,
            "already loaded" if load.already_loaded else f"{load.rows_new} of {load.rows_total}",
        )
    with postgres.connect() as conn:
        days = conn.execute(
            "select local_date, count(distinct isp_start) from raw.settlement_prices"
            " group by local_date order by local_date"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            "files_read": dg.MetadataValue.int(len(loads)),
            "files_loaded": dg.MetadataValue.int(sum(not load.already_loaded for load in loads)),
            "price_versions_added": dg.MetadataValue.int(sum(load.rows_new for load in loads)),
            "days_with_prices": dg.MetadataValue.md(
                "\n".join(["| day | ISPs |", "|---|---|"] + [f"| {d} | {n} |" for d, n in days])
            ),
        }
    )
