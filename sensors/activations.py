"""Poll the TSO's activation feed and the landing folder; one dispatch run per activation."""

import json
from pathlib import Path
from typing import Any

import dagster as dg

from integrations.clock import PlatformClock
from integrations.database.resource import PostgresResource
from integrations.device_cloud_client import DeviceCloudClient
from integrations.settings import LANDING_DIR
from integrations.tso_client import TsoClient
from orchestration.jobs import dispatch_job
from orchestration.partitions import activation_partitions

ACTIVATION_LANDING = LANDING_DIR / "tso" / "activations"
#: At most this many documents per evaluation (the rest come at the next tick).
MAX_DOCUMENTS_PER_TICK = 200


def _landed(seen: set[str], folder: Path) -> list[tuple[str, bytes, str | None]]:
    """New ``*.xml`` files in the landing folder (signature in ``<name>.sig``), oldest first.

    ``seen`` is updated in place to the digests of the files present now: a file removed from
    the folder is forgotten (the cursor does not grow with every file ever landed); landed
    again, the intake knows its bytes and answers ``duplicate``.
    """
    import hashlib

    found = []
    if not folder.is_dir():
        seen.clear()
        return found
    present: set[str] = set()
    for path in sorted(folder.glob("*.xml"), key=lambda p: (p.stat().st_mtime, p.name)):
        xml = path.read_bytes()
        sha = hashlib.sha256(xml).hexdigest()
        present.add(sha)
        if sha in seen:
            continue
        sig_path = path.with_name(path.name + ".sig")
        signature = sig_path.read_text().strip() if sig_path.exists() else None
        found.append((f"file:{path.name}", xml, signature))
    seen.clear()
    seen |= present
    return found


def evaluate_activations(
    cursor: str | None,
    tso: TsoClient,
    postgres: PostgresResource,
    landing: Path | None = None,
) -> tuple[list[dg.RunRequest], list[str], str, list[Any]]:
    """Take new documents; (run requests, their partition keys, next cursor, intake results).

    Every run request's partition key is returned, duplicates included: adding an existing
    dynamic partition changes nothing, and a missing one would fail the whole tick.
    """
    from integrations.dispatch.intake import take_document
    from integrations.secrets import load_tso_signing_key

    state = json.loads(cursor) if cursor else {"after": 0, "files": []}
    key = load_tso_signing_key()
    documents: list[tuple[str, int | None, bytes, str | None]] = []
    page = tso.fetch_activations(state["after"], limit=MAX_DOCUMENTS_PER_TICK)
    documents += [("tso-feed", item.sequence, item.xml, item.signature) for item in page.items]
    seen = set(state["files"])
    landed = _landed(seen, landing or ACTIVATION_LANDING)
    documents += [(src, None, xml, sig) for src, xml, sig in landed]
    results = []
    requests: list[dg.RunRequest] = []
    keys: list[str] = []
    with postgres.connect() as conn:
        for source, sequence, xml, signature in documents:
            result = take_document(conn, xml, signature, source=source, key=key, sequence=sequence)
            conn.commit()
            results.append(result)
            if result.partition_key is None or result.status == "refused":
                continue
            # A duplicate's partition too: the intake may have recorded a document whose
            # partition never reached this instance (a tick that failed after the commit).
            if result.partition_key not in keys:
                keys.append(result.partition_key)
            requests.append(
                dg.RunRequest(
                    run_key=f"activation-{result.partition_key}",
                    partition_key=result.partition_key,
                    tags={"vppal/activation": result.activation.mrid},
                )
            )
    next_state = {"after": page.next_sequence, "files": sorted(seen)}
    return requests, keys, json.dumps(next_state), results


@dg.sensor(
    name="tso_activation_sensor",
    description="Every second: new activation documents from the TSO's feed and from "
    "var/landing/tso/activations/ (signature in <file>.sig). Each is checked (signature, XSD, "
    "rules) and recorded; a refused one is quarantined with an activation_refused alert; an "
    "accepted revision is acknowledged, dispatched and answered in the tick (up to 10 s of work "
    "per tick; VPPAL_DISPATCH_IN_TICK=0 turns this off) and gets its partition and one dispatch "
    "run that records it, or dispatches it when the tick did not (run key = mRID + revision, so "
    "a document delivered twice is dispatched once).",
    job=dispatch_job,
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def tso_activation_sensor(
    context: dg.SensorEvaluationContext,
    tso: TsoClient,
    postgres: PostgresResource,
    device_cloud: DeviceCloudClient,
    clock: PlatformClock,
) -> dg.SensorResult:
    """Poll, judge, dispatch what the tick's budget allows, and request one run per revision."""
    from integrations.dispatch import in_tick

    requests, keys, cursor, results = evaluate_activations(context.cursor, tso, postgres)
    refused = [r for r in results if r.status == "refused"]
    for result in refused:
        context.log.warning(result.reason)
    if in_tick.enabled():
        done = in_tick.dispatch_in_tick(results, postgres, tso, device_cloud, clock.now())
        for key, why in done.left:
            context.log.warning(f"activation {key} left to its dispatch run: {why}")
    if keys:
        # Added before the run requests are returned: the daemon validates each request's
        # partition against the instance while it resolves the tick, and a
        # dynamic_partitions_request in the same SensorResult is not there yet
        # (DagsterUnknownPartitionError, seen in benchmarks/dispatch_latency.py).
        context.instance.add_dynamic_partitions(activation_partitions.name, keys)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
