"""Validation documents to the TSO per pool and hour: measured power, baselines, device data."""

from datetime import timedelta

import dagster as dg

from integrations.database.resource import PostgresResource
from integrations.tso_client import TsoClient
from orchestration.partitions import hourly_partitions

VALIDATION_DOCUMENTS = dg.AssetKey(["outbox", "tso_validation_documents"])
UPSTREAMS = [
    dg.AssetKey(["raw", "pool_baselines"]),
    dg.AssetKey(["marts", "fct_pool_power"]),
    dg.AssetKey(["raw", "device_measurements"]),
    dg.AssetKey(["marts", "fct_device_pool_membership"]),
]


@dg.asset(
    key=VALIDATION_DOCUMENTS,
    group_name="validation",
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=UPSTREAMS,
    kinds={"python", "xml", "api"},
    owners=["team:data-platform"],
    automation_condition=dg.AutomationCondition.eager(),
)
def tso_validation_documents(
    context: dg.AssetExecutionContext, postgres: PostgresResource, tso: TsoClient
) -> dg.MaterializeResult:
    """Per pool and UTC hour, three MeasurementValue documents, XSD-valid, to the TSO.

    The pool's measured power (PT4S for aFRR pools, PT1M otherwise), its baselines (one series
    per horizon, by target minute) and each member device's power keyed by its pseudonym
    (metering service provider data; no device id or customer data leaves). Each document is
    validated against its XSD, written to var/outbox/tso/, recorded in ops.tso_submissions and
    posted; a re-run sends only what is new or not yet acknowledged, and changed content goes
    out as the next revision of the same mRID.
    """
    from integrations.progress import Progress, relay
    from integrations.validation.submit import submit_validation_hour

    window = context.partition_time_window
    hours = int((window.end - window.start) / timedelta(hours=1))
    progress = Progress("validation documents", hours, "hours", relay(context.log.info))
    totals: dict[str, int] = {}
    unanswered = 0
    hour = window.start
    while hour < window.end:
        outcome = submit_validation_hour(postgres, tso, hour, hour + timedelta(hours=1))
        for key, count in outcome.counts.items():
            totals[key] = totals.get(key, 0) + count
        unanswered += outcome.unanswered
        hour += timedelta(hours=1)
        progress.advance(note=f"{totals.get('accepted', 0)} documents accepted")
    context.log.info("validation documents %s - %s: %s", window.start, window.end, totals)
    if unanswered:
        raise dg.Failure(
            f"{unanswered} documents are recorded but the TSO did not answer; "
            "re-run the partition to send them again (same mRID and revision)",
            metadata={"counts": dg.MetadataValue.json(totals)},
        )
    return dg.MaterializeResult(
        metadata={
            "documents": dg.MetadataValue.json(totals),
            "accepted": dg.MetadataValue.int(totals.get("accepted", 0)),
            "rejected": dg.MetadataValue.int(totals.get("rejected", 0)),
            "unchanged": dg.MetadataValue.int(totals.get("already_acknowledged", 0)),
        }
    )
