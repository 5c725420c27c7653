"""Registry files from the landing zone into the raw tables; bad rows go to quarantine."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from domain.registry import ENTITY_ORDER
from integrations.database.resource import PostgresResource
from integrations.settings import LANDING_DIR

# I/O modules (psycopg and what uses it) are imported inside the asset body: every run and UI
# reload imports this code location, and only a run of this asset needs them.
RAW_REGISTRY_KEYS = [dg.AssetKey(["raw", f"registry_{entity}"]) for entity in ENTITY_ORDER]


class RegistryLandingConfig(dg.Config):
    """Where to read registry batches from."""

    folder: str = str(LANDING_DIR / "registry")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            group_name="registry",
            description=f"Stored versions of registry {key.path[-1].removeprefix('registry_')}.",
            kinds={"python", "postgres"},
            owners=["team:data-platform"],
        )
        for key in RAW_REGISTRY_KEYS
    ]
    + [
        dg.AssetSpec(
            dg.AssetKey(["pii", "customers"]),
            group_name="registry",
            description="Personal data of customers (name, e-mail, address): schema pii only.",
            kinds={"python", "postgres"},
            owners=["team:data-platform"],
        )
    ],
    can_subset=False,
)
def raw_registry(
    context: dg.AssetExecutionContext, config: RegistryLandingConfig, postgres: PostgresResource
) -> Iterator[dg.MaterializeResult]:
    """Load every registry file not loaded before; bad records go to ops.quarantine."""
    from integrations.registry.loader import load_registry

    report = load_registry(postgres.url, Path(config.folder))
    context.log.info(
        "registry: %d files loaded, %d skipped (already loaded), %d records quarantined",
        len(report.files_loaded),
        len(report.files_skipped),
        report.quarantined_total,
    )
    quarantine_table = "\n".join(
        ["| reason | records |", "|---|---|"]
        + [f"| {code} | {count} |" for code, count in sorted(report.quarantined.items())]
    )
    for key in [*RAW_REGISTRY_KEYS, dg.AssetKey(["pii", "customers"])]:
        entity = key.path[-1].removeprefix("registry_")
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "new_versions": dg.MetadataValue.int(report.rows_changed.get(entity, 0)),
                "files_loaded": dg.MetadataValue.int(len(report.files_loaded)),
                "files_skipped": dg.MetadataValue.int(len(report.files_skipped)),
                "records_unchanged": dg.MetadataValue.int(report.rows_unchanged),
                "records_quarantined": dg.MetadataValue.int(report.quarantined_total),
                "quarantine_by_reason": dg.MetadataValue.md(quarantine_table),
            },
        )
