"""Open, update and close ``ops.alerts`` rows for site exclusivity conflicts."""

import dagster as dg

from integrations.database.resource import PostgresResource

ALERT_TYPE = "site_market_conflict"

# One alert per conflict, keyed by site and conflict start. The alert covers the conflict's
# period: opened_at = when it started, closed_at = when it ended (null while it lasts). A conflict
# that disappears because the registry was corrected is closed at the time of the correction.
SYNC_SQL = """
with conflicts as (
    select
        %(alert_type)s || ':' || site_id || ':' || to_char(conflict_from at time zone 'UTC',
            'YYYY-MM-DD"T"HH24:MI:SS"Z"') as alert_key,
        site_id, conflict_from, conflict_to, markets, device_ids, pool_ids, memberships
    from marts.fct_site_market_conflicts
),
upserted as (
    insert into ops.alerts as a
        (alert_type, alert_key, entity_id, severity, message, details, opened_at, closed_at)
    select
        %(alert_type)s, alert_key, site_id, 'warning',
        'site ' || site_id || ' has devices in pools on ' || array_to_string(markets, ' and ')
            || ' at once; it is left out of disaggregation until this ends',
        jsonb_build_object(
            'site_id', site_id, 'markets', markets, 'device_ids', device_ids,
            'pool_ids', pool_ids, 'memberships', memberships,
            'since', conflict_from, 'until', conflict_to),
        conflict_from,
        case when conflict_to <= now() then conflict_to end
    from conflicts
    on conflict (alert_key) do update set
        message = excluded.message,
        details = excluded.details,
        closed_at = excluded.closed_at,
        updated_at = now()
    where a.details is distinct from excluded.details
        or a.closed_at is distinct from excluded.closed_at
    returning (xmax = 0) as inserted
),
resolved as (
    update ops.alerts set
        closed_at = now(),
        details = details || jsonb_build_object('resolution', 'registry corrected'),
        updated_at = now()
    where alert_type = %(alert_type)s and closed_at is null
        and alert_key not in (select alert_key from conflicts)
    returning 1
)
select
    (select count(*) from upserted where inserted),
    (select count(*) from upserted where not inserted),
    (select count(*) from resolved)
"""


@dg.asset(
    key=["ops", "site_market_conflict_alerts"],
    group_name="ops",
    deps=[dg.AssetKey(["marts", "fct_site_market_conflicts"])],
    kinds={"python", "postgres"},
    owners=["team:operations"],
)
def site_market_conflict_alerts(
    context: dg.AssetExecutionContext, postgres: PostgresResource
) -> dg.MaterializeResult:
    """One ``ops.alerts`` row per site exclusivity conflict; closed when the conflict ends."""
    with postgres.connect() as conn:
        opened, updated, resolved = conn.execute(SYNC_SQL, {"alert_type": ALERT_TYPE}).fetchone()
        still_open = conn.execute(
            "select count(*) from ops.alerts where alert_type = %s and closed_at is null",
            (ALERT_TYPE,),
        ).fetchone()[0]
    context.log.info(
        "site conflict alerts: %d opened, %d updated, %d resolved", opened, updated, resolved
    )
    return dg.MaterializeResult(
        metadata={
            "alerts_new": dg.MetadataValue.int(opened),
            "alerts_updated": dg.MetadataValue.int(updated),
            "alerts_resolved": dg.MetadataValue.int(resolved),
            "alerts_open": dg.MetadataValue.int(still_open),
        }
    )
