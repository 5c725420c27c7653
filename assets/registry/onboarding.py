"""Devices onboarded by their owners in a device cloud become a registry batch."""

import csv
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from domain.onboarding import onboardings_to_devices
from domain.registry import ENTITY_COLUMNS
from integrations.database.resource import PostgresResource
from integrations.device_cloud_client import DeviceCloudClient
from integrations.settings import LANDING_DIR

# I/O modules (psycopg and what uses it) are imported inside the asset body: every run and UI
# reload imports this code location, and only a run of this asset needs them.
CURSOR_SOURCE = "device_cloud.onboardings"
#: Batches the platform writes itself; the landing sensor leaves them alone (loaded at once).
BATCH_PREFIX = "device-cloud_"


class OnboardingConfig(dg.Config):
    """Where the onboarding batch is written (the registry landing zone)."""

    landing_folder: str = str(LANDING_DIR / "registry")


@dg.asset(
    key=["landing", "device_cloud_onboardings"],
    group_name="registry",
    deps=[dg.AssetKey(["raw", "registry_sites"])],
    kinds={"python", "api", "postgres"},
    owners=["team:data-platform"],
)
def device_cloud_onboardings(
    context: dg.AssetExecutionContext,
    config: OnboardingConfig,
    postgres: PostgresResource,
    device_cloud: DeviceCloudClient,
) -> dg.MaterializeResult:
    """Fetch onboardings since the stored cursor, land them as a ``devices.csv`` batch, load it.

    The batch goes through the same intake rules as any registry file, so a bad onboarding is
    quarantined with its reason. Owners report the EAN of their connection; it is mapped to the
    registered site here, which is why this runs after the registry files are loaded.
    """
    from integrations.registry.loader import load_registry
    from integrations.registry.store import QuarantineEntry, insert_quarantine

    with postgres.connect() as conn:
        row = conn.execute(
            "select cursor_value from ops.source_cursors where source = %s", (CURSOR_SOURCE,)
        ).fetchone()
        cursor = int(row[0]) if row else 0
        events, last = [], cursor
        for event, after in device_cloud.onboardings_since(cursor):
            events.append(event)
            last = after
        site_ids_by_ean = dict(
            conn.execute(
                "select distinct on (site_id) ean, site_id from raw.registry_sites"
                " order by site_id, file_id desc, source_line desc"
            ).fetchall()
        )
        outcome = onboardings_to_devices(events, site_ids_by_ean)
        batch_path = None
        if outcome.device_rows:
            batch_path = Path(config.landing_folder) / f"{BATCH_PREFIX}{cursor + 1:08d}-{last:08d}"
            batch_path.mkdir(parents=True, exist_ok=True)
            with (batch_path / "devices.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=ENTITY_COLUMNS["devices"])
                writer.writeheader()
                writer.writerows(outcome.device_rows)
        now = datetime.now(UTC)
        insert_quarantine(
            conn,
            [
                QuarantineEntry(
                    "device-cloud/onboardings",
                    None,
                    int(e["sequence"]),
                    "devices",
                    e,
                    code,
                    why,
                    now,
                )
                for e, code, why in outcome.refused
            ],
        )
        conn.execute(
            "insert into ops.source_cursors (source, cursor_value, updated_at) values (%s, %s, %s)"
            " on conflict (source) do update set cursor_value = excluded.cursor_value,"
            " updated_at = excluded.updated_at",
            (CURSOR_SOURCE, str(last), now),
        )
    report = (
        load_registry(postgres.url, batch_path.parent, batches={batch_path.name})
        if batch_path
        else None
    )
    context.log.info("device cloud: %d onboardings after cursor %d", len(events), cursor)
    return dg.MaterializeResult(
        metadata={
            "onboardings": dg.MetadataValue.int(len(events)),
            "devices_landed": dg.MetadataValue.int(len(outcome.device_rows)),
            "refused_unknown_site": dg.MetadataValue.int(len(outcome.refused)),
            "quarantined_at_intake": dg.MetadataValue.int(
                report.quarantined_total if report else 0
            ),
            "cursor": dg.MetadataValue.int(last),
            "batch": dg.MetadataValue.path(str(batch_path) if batch_path else "none"),
        }
    )
