"""Tell the TSO about every controllable device behind its allocation point (site EAN)."""

from datetime import UTC, datetime

import dagster as dg

from domain.tso_registration import due_registrations, payload_digest
from integrations.database.resource import PostgresResource
from integrations.tso_client import TsoClient

# I/O modules (psycopg and what uses it) are imported inside the asset body: every run and UI
# reload imports this code location, and only a run of this asset needs them.
CHUNK = 200


@dg.asset(
    key=["ops", "tso_device_registrations"],
    group_name="registry",
    deps=[dg.AssetKey(["marts", "dim_devices"]), dg.AssetKey(["marts", "dim_sites"])],
    kinds={"python", "api", "postgres"},
    owners=["team:data-platform"],
)
def tso_device_registrations(
    context: dg.AssetExecutionContext, postgres: PostgresResource, tso: TsoClient
) -> dg.MaterializeResult:
    """Register new or changed controllable devices with the TSO and record every answer.

    The TSO knows a device by its keyed pseudonym only (``device_ref``); the device id stays
    in ``ops.tso_registrations``.
    """
    from psycopg.types.json import Jsonb

    from domain.pseudonyms import pseudonym
    from integrations.secrets import load_pseudonym_key

    with postgres.connect() as conn:
        devices = conn.execute(
            "select d.device_id, d.site_id, s.ean as site_ean, d.device_type, d.rated_power_kw"
            " from marts.dim_devices d join marts.dim_sites s using (site_id)"
            " where d.controllable order by d.device_id"
        ).fetchall()
        columns = ("device_id", "site_id", "site_ean", "device_type", "rated_power_kw")
        devices = [dict(zip(columns, row, strict=True)) for row in devices]
        answered = dict(
            conn.execute(
                "select distinct on (device_id) device_id, payload_sha256"
                " from ops.tso_registrations order by device_id, sent_at desc"
            ).fetchall()
        )
    site_of = {d["device_id"]: d["site_id"] for d in devices}
    key = load_pseudonym_key()
    pseudonyms = {d["device_id"]: pseudonym(key, d["device_id"]) for d in devices}
    device_of = {ref: device_id for device_id, ref in pseudonyms.items()}
    due = due_registrations(devices, answered, pseudonyms)
    counts = {"accepted": 0, "rejected": 0}
    for start in range(0, len(due), CHUNK):
        chunk = due[start : start + CHUNK]
        sent_at = datetime.now(UTC)
        answer = tso.register_devices(chunk)
        answered_at = datetime.fromisoformat(answer.body["answered_at"])
        by_ref = {result["device_ref"]: result for result in answer.body["results"]}
        rows = []
        for payload in chunk:
            result = by_ref.get(
                payload["device_ref"], {"status": "rejected", "reason": "no answer"}
            )
            counts[result["status"]] = counts.get(result["status"], 0) + 1
            device_id = device_of[payload["device_ref"]]
            rows.append(
                (
                    device_id,
                    site_of[device_id],
                    payload["site_ean"],
                    payload_digest(payload),
                    Jsonb(payload),
                    answer.http_status,
                    result["status"],
                    result.get("reference"),
                    result.get("reason"),
                    sent_at,
                    answered_at,
                )
            )
        with postgres.connect() as conn:
            conn.cursor().executemany(
                "insert into ops.tso_registrations (device_id, site_id, site_ean, payload_sha256,"
                " request, http_status, status, tso_reference, reason, sent_at, answered_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
    context.log.info("TSO registrations: %d sent, %s", len(due), counts)
    return dg.MaterializeResult(
        metadata={
            "sent": dg.MetadataValue.int(len(due)),
            "accepted": dg.MetadataValue.int(counts.get("accepted", 0)),
            "rejected": dg.MetadataValue.int(counts.get("rejected", 0)),
            "controllable_devices": dg.MetadataValue.int(len(devices)),
        }
    )
