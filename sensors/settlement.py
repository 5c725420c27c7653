"""The settlement sensor: price files in, then one settlement run per ready day and inputs."""

import json

import dagster as dg

from assets.settlement import settlement_job, settlement_prices_job
from integrations.database.resource import PostgresResource
from sensors.fingerprints import file_fingerprints, new_files, run_key

#: Days judged per tick: the newest local days with prices.
LOOKBACK_DAYS = 7


def price_file_fingerprints() -> dict[str, str]:
    """SHA-256 of every price file the price asset reads, by folder and name."""
    from integrations.settlement.prices import PRICE_SUFFIX, default_price_folders

    found = {}
    for folder in default_price_folders():
        for name, digest in file_fingerprints(
            folder, "*", keep=lambda path: path.suffix.lower() == PRICE_SUFFIX
        ).items():
            found[f"{folder}/{name}"] = digest
    return found


@dg.sensor(
    name="settlement_sensor",
    description="Loads new TenneT price files, then launches settlement_job for each local day "
    "whose ISPs all have complete, check-passing measurements, baselines and known prices, "
    "once per day and digest of its inputs (a correction changes the digest and re-runs it).",
    jobs=[settlement_prices_job, settlement_job],
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def settlement_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.SensorResult:
    """Request a price load for new price files, else a settlement run per waiting day."""
    from integrations.settlement.readiness import days_waiting
    from integrations.settlement.readiness import run_key as settlement_run_key

    cursor = json.loads(context.cursor) if context.cursor else {}
    current = price_file_fingerprints()
    new = new_files(cursor.get("price_files", {}), current)
    next_cursor = json.dumps({"price_files": current})
    if new:  # settle with the new prices: the days wait for the next tick
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    job_name=settlement_prices_job.name,
                    run_key=f"settlement-prices-{run_key(new)}",
                    tags={"vppal/files": str(len(new))},
                )
            ],
            cursor=next_cursor,
        )
    waiting, judged = days_waiting(context.instance, postgres.url, LOOKBACK_DAYS)
    for status in judged:
        context.log.info("%s: %s", status.local_date, status.reason)
    if not waiting:
        return dg.SensorResult(
            skip_reason=f"no day waits for settlement ({len(judged)} days with prices judged)",
            cursor=next_cursor,
        )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                job_name=settlement_job.name,
                run_key=settlement_run_key(status),
                partition_key=status.local_date.isoformat(),
                tags={"vppal/inputs_digest": status.inputs_digest or ""},
            )
            for status in waiting
        ],
        cursor=next_cursor,
    )
