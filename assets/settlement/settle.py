"""The settlement of one local day: delivery, TSO revenue, prosumer payouts, statement versions."""

from collections.abc import Iterator

import dagster as dg

from assets.settlement.partitions import on_all_partitions, settlement_daily_partitions
from assets.settlement.prices import SETTLEMENT_PRICES
from integrations.database.resource import PostgresResource

SETTLEMENT_RUNS = dg.AssetKey(["raw", "settlement_runs"])
DELIVERY = dg.AssetKey(["raw", "settlement_delivery_isp"])
TSO_ROWS = dg.AssetKey(["raw", "settlement_tso_isp"])
PROSUMER_ROWS = dg.AssetKey(["raw", "settlement_prosumer_isp"])
STATEMENTS = dg.AssetKey(["raw", "prosumer_statements"])
SKIPPED = dg.AssetKey(["raw", "settlement_skipped"])
LEDGER = (SETTLEMENT_RUNS, DELIVERY, TSO_ROWS, PROSUMER_ROWS, STATEMENTS, SKIPPED)

#: What a day's settlement reads (the activations: every revision the intake stored).
INPUTS = on_all_partitions(
    dg.AssetKey(["marts", "fct_pool_power"]),
    dg.AssetKey(["marts", "fct_device_energy_isp"]),
    dg.AssetKey(["marts", "fct_pool_baselines"]),
    dg.AssetKey(["marts", "fct_device_pool_membership"]),
    dg.AssetKey(["marts", "dim_devices"]),
    dg.AssetKey(["staging", "stg_registry__contracts"]),
    dg.AssetKey(["raw", "tso_activations"]),
    SETTLEMENT_PRICES,
)

DESCRIPTIONS = {
    SETTLEMENT_RUNS: "One row per settlement run of a day: the digest of its inputs and what "
    "it added.",
    DELIVERY: "Delivery per activation and ISP (requested, measured, frozen baseline, "
    "delivered, ratio, shortfall, coverage) as each run computed it.",
    TSO_ROWS: "TSO settlement per pool, ISP and statement version: gross, penalty, revenue "
    "and aggregator margin in EUR, with the price and its source.",
    PROSUMER_ROWS: "Payout per device, ISP and statement version, by customer pseudonym, "
    "largest remainder to the cent.",
    STATEMENTS: "Monthly statement versions per customer pseudonym: what each version carries "
    "and the month's total after it.",
    SKIPPED: "Pool-ISPs a run could not settle (yet): incomplete samples or a missing price.",
}


@dg.multi_asset(
    name="settle_day",
    specs=[
        dg.AssetSpec(
            key,
            description=DESCRIPTIONS[key],
            group_name="settlement",
            kinds={"python", "postgres"},
            owners=["team:data-platform"],
            deps=INPUTS,
        )
        for key in LEDGER
    ],
    partitions_def=settlement_daily_partitions,
)
def settle_day(
    context: dg.AssetExecutionContext, postgres: PostgresResource
) -> Iterator[dg.MaterializeResult]:
    """Settle one Europe/Amsterdam day and append the new versions to the ledger.

    Reads the day's final activations, pool power against the frozen 10-minute baselines,
    device energies, memberships, contracts and the prices in force (one repeatable-read
    snapshot, the digest of those reads recorded with the run); computes delivery, the TSO
    settlement per pool and ISP, the prosumer payouts by largest remainder and, against what
    earlier runs wrote, only the differences as new statement versions. Re-running unchanged
    inputs adds a run record and nothing else.
    """
    from datetime import UTC, date, datetime

    from assets.settlement.report import settlement_run_metadata
    from domain.settlement.day import day_bounds, settle_day, version_day
    from domain.settlement.statements import settlement_month
    from integrations.secrets import load_pseudonym_key
    from integrations.settlement import store
    from integrations.settlement.inputs import inputs_digest, plan_day, read_day_inputs
    from integrations.settlement.reconciliation import reconcile_isps, reconcile_month

    local_date = date.fromisoformat(context.partition_key)
    start, end = day_bounds(local_date)
    month = settlement_month(start)
    key = load_pseudonym_key()
    created_at = datetime.now(UTC)
    with store.settlement_transaction(postgres.url) as conn:
        plan = plan_day(conn, local_date)
        digest = inputs_digest(conn, plan)
        inputs = read_day_inputs(conn, plan)
        settlement = settle_day(inputs, key)
        versions = version_day(
            settlement,
            tso_ledger=store.tso_ledger(conn, start, end),
            prosumer_ledger=store.prosumer_ledger(conn, start, end),
            pool_versions=store.pool_versions(conn, month),
            prosumer_months=store.prosumer_months(conn, month),
            created_at=created_at,
        )
        counts = store.record_run(
            conn,
            settlement,
            versions,
            revisions=plan.revisions,
            inputs_digest=digest,
            run_id=context.run_id,
            created_at=created_at,
            month=month,
        )
        # the ledger after this run, read in its transaction (the dbt views come later)
        isps_checked, month_checked = reconcile_isps(conn, start, end), reconcile_month(conn, month)
    skipped: dict[str, int] = {}
    for skip in settlement.skipped:
        skipped[skip.reason_code] = skipped.get(skip.reason_code, 0) + 1
    context.log.info(
        "%s: %d pool-ISPs settled, %d skipped, %d TSO and %d prosumer rows, %d statements added",
        local_date,
        counts.isps_settled,
        counts.isps_skipped,
        counts.tso_rows_added,
        counts.prosumer_rows_added,
        counts.statements_added,
    )
    yield dg.MaterializeResult(
        asset_key=SETTLEMENT_RUNS,
        metadata={
            "settlement_id": dg.MetadataValue.int(counts.settlement_id),
            "inputs_digest": dg.MetadataValue.text(digest),
            "pool_isps_settled": dg.MetadataValue.int(counts.isps_settled),
            **settlement_run_metadata(
                local_date, settlement, inputs.activations, isps_checked, month_checked
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key=DELIVERY,
        metadata={"rows": dg.MetadataValue.int(len(settlement.deliveries))},
    )
    yield dg.MaterializeResult(
        asset_key=TSO_ROWS, metadata={"rows_added": dg.MetadataValue.int(counts.tso_rows_added)}
    )
    yield dg.MaterializeResult(
        asset_key=PROSUMER_ROWS,
        metadata={"rows_added": dg.MetadataValue.int(counts.prosumer_rows_added)},
    )
    yield dg.MaterializeResult(
        asset_key=STATEMENTS,
        metadata={"versions_added": dg.MetadataValue.int(counts.statements_added)},
    )
    yield dg.MaterializeResult(
        asset_key=SKIPPED,
        metadata={
            "pool_isps_skipped": dg.MetadataValue.int(counts.isps_skipped),
            "by_reason": dg.MetadataValue.json(skipped),
        },
    )
