"""What the platform holds, printed for people (``vppal summary`` and the end of ``make demo``)."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

QUERIES: list[tuple[str, str]] = [
    ("customers", "select count(*) from staging.stg_registry__customers"),
    ("locations", "select count(*) from marts.dim_locations"),
    ("sites", "select count(*) from marts.dim_sites"),
    ("devices", "select count(*) from marts.dim_devices"),
    ("pools", "select count(*) from marts.dim_pools"),
    ("memberships", "select count(*) from marts.fct_device_pool_membership"),
]


def _table(title: str, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows, strict=False)]
    lines = [title, "  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += [
        "  " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows
    ]
    return "\n".join(lines)


def summary_text(url: str) -> str:
    """The registry summary: entities, pools per market, conflicts, quarantine, TSO answers."""
    with psycopg.connect(url) as conn:
        counts = [(name, conn.execute(sql).fetchone()[0]) for name, sql in QUERIES]
        per_market = conn.execute(
            "select p.market, count(distinct p.pool_id), count(m.device_id)"
            " from marts.dim_pools p left join marts.fct_device_pool_membership m"
            " on m.pool_id = p.pool_id and m.valid_from <= now()"
            " and (m.valid_to is null or m.valid_to > now())"
            " group by p.market order by p.market"
        ).fetchall()
        conflicts = conn.execute(
            "select site_id, array_to_string(markets, '+'),"
            " to_char(conflict_from at time zone 'Europe/Amsterdam', 'YYYY-MM-DD HH24:MI'),"
            " coalesce(to_char(conflict_to at time zone 'Europe/Amsterdam', 'YYYY-MM-DD HH24:MI'),"
            " 'ongoing')"
            " from marts.fct_site_market_conflicts order by site_id, conflict_from"
        ).fetchall()
        alerts = conn.execute(
            "select count(*) filter (where closed_at is null), count(*) from ops.alerts"
        ).fetchone()
        quarantine = conn.execute(
            "select reason_code, count(*) from ops.quarantine group by 1 order by 2 desc, 1"
        ).fetchall()
        registrations = conn.execute(
            "select status, count(distinct device_id) from ops.tso_registrations group by 1"
        ).fetchall()
    parts = [
        _table("Registry", ("entity", "count"), counts),
        _table(
            "Pools per market (devices in them now)", ("market", "pools", "devices"), per_market
        ),
        _table(
            "Site exclusivity conflicts (left out of disaggregation meanwhile)",
            ("site", "markets", "from (Amsterdam)", "until"),
            conflicts or [("-", "-", "-", "-")],
        ),
        f"Alerts: {alerts[0]} open, {alerts[1]} in all",
        _table("Quarantined records", ("reason", "records"), quarantine or [("-", 0)]),
        _table("TSO registrations (devices)", ("status", "devices"), registrations or [("-", 0)]),
    ]
    return "\n\n".join(parts)


def print_summary(url: str) -> int:
    """Print :func:`summary_text`; exit code 0."""
    print(summary_text(url))
    return 0


def measurement_summary_text(url: str, start: datetime, end: datetime) -> str:
    """Loads and quarantine of the window, then energy per pool (columns) and ISP (rows)."""
    with psycopg.connect(url) as conn:
        loads = conn.execute(
            "select source, count(*), sum(rows_loaded), sum(rows_quarantined),"
            " sum(rows_duplicate), sum(rows_conflicting) from raw.measurement_loads"
            " where replaced_by is null and window_start < %s and window_end >= %s"
            " group by source order by source",
            (end, start),
        ).fetchall()
        quarantine = conn.execute(
            "select reason_code, count(*) from ops.quarantine where entity = 'measurements'"
            " group by 1 order by 2 desc, 1"
        ).fetchall()
        pools = [
            row[0]
            for row in conn.execute(
                "select distinct pool_id from marts.fct_pool_energy_isp"
                " where isp_start >= %s and isp_start < %s order by 1",
                (start, end),
            )
        ]
        cells = conn.execute(
            "select i.isp_number, to_char(i.isp_start at time zone 'Europe/Amsterdam', 'HH24:MI'),"
            " e.pool_id, e.energy_kwh from marts.dim_isp i left join marts.fct_pool_energy_isp e"
            " on e.isp_start = i.isp_start where i.isp_start >= %s and i.isp_start < %s"
            " order by i.isp_start",
            (start, end),
        ).fetchall()
    grid: dict[tuple[int, str], dict[str, object]] = {}
    for number, local, pool, energy in cells:
        row = grid.setdefault((number, local), {})
        if pool is not None:
            row[pool] = energy
    short = [pool.removeprefix("POOL-") for pool in pools]
    rows = [
        (number, local, *(f"{row.get(pool, 0):.1f}" for pool in pools))
        for (number, local), row in grid.items()
    ]
    totals = ("day", "", *(f"{sum(float(r.get(p, 0)) for r in grid.values()):.0f}" for p in pools))
    parts = [
        _table(
            "Measurement loads",
            ("source", "loads", "rows loaded", "quarantined", "duplicates", "conflicts"),
            loads or [("-", 0, 0, 0, 0, 0)],
        ),
        _table("Quarantined readings", ("reason", "readings"), quarantine or [("-", 0)]),
        _table(
            f"Energy per pool and ISP, kWh (offtake +), {len(grid)} ISPs",
            ("isp", "local", *short),
            [*rows, totals],
        ),
    ]
    return "\n\n".join(parts)


def validation_summary_text(url: str, start: datetime, end: datetime) -> str:
    """The backtest's choice per pool and horizon, the window's baselines and TSO documents."""
    with psycopg.connect(url) as conn:
        backtest = conn.execute(
            "select c.pool_id, c.horizon_min, c.method, round(c.nmae_pct::numeric, 1),"
            " round(p.nmae_pct::numeric, 1),"
            " case when c.method = 'persistence' then '-' when c.mae_mw < p.mae_mw then 'yes'"
            " else 'no' end"
            " from marts.baseline_accuracy c join marts.baseline_accuracy p"
            " on p.pool_id = c.pool_id and p.horizon_min = c.horizon_min"
            " and p.method = 'persistence' where c.chosen order by 1, 2"
        ).fetchall()
        # How the 10-minute baselines issued for the window did against what was measured.
        issued = conn.execute(
            "with measured as (select pool_id, date_bin('1 minute', ts, '2000-01-01 00:00+00')"
            " as minute, avg(power_mw) as power_mw from marts.fct_pool_power"
            " where ts >= %s and ts < %s group by 1, 2)"
            " select b.pool_id, string_agg(distinct b.method, '+'), count(*),"
            " count(*) filter (where b.frozen),"
            " round(avg(abs(b.baseline_mw - m.power_mw)) * 1000, 2),"
            " round(100 * avg(abs(b.baseline_mw - m.power_mw))"
            " / nullif(avg(abs(m.power_mw)), 0), 1)"
            " from raw.pool_baselines b join measured m"
            " on m.pool_id = b.pool_id and m.minute = b.target_ts"
            " where b.horizon_min = 10 and b.issued_at >= %s and b.issued_at < %s"
            " group by 1 order by 1",
            (start, end + timedelta(minutes=10), start, end),
        ).fetchall()
        documents = conn.execute(
            "select document_kind, coalesce(ack_status, 'unanswered'), count(*),"
            " count(distinct pool_id) from ops.tso_submissions"
            " where period_start >= %s and period_start < %s"
            " and document_kind in ('pool_measurements', 'pool_baselines', 'device_measurements')"
            " group by 1, 2 order by 1, 2",
            (start, end),
        ).fetchall()
    return "\n\n".join(
        [
            _table(
                "Baseline backtest (history before the day): method chosen per pool and horizon",
                ("pool", "horizon min", "chosen", "nMAE %", "persistence nMAE %", "beats it"),
                backtest or [("-", "-", "-", "-", "-", "-")],
            ),
            _table(
                "Baselines 10 minutes ahead issued for the day, scored against its measurements",
                ("pool", "method", "baselines", "frozen", "MAE kW", "nMAE %"),
                issued or [("-", "-", 0, 0, "-", "-")],
            ),
            _table(
                "Validation documents to the TSO (XSD-valid, in var/outbox/tso/)",
                ("kind", "acknowledgement", "documents", "pools"),
                documents or [("-", "-", 0, 0)],
            ),
        ]
    )


def flexibility_summary_text(url: str, start: datetime, end: datetime) -> str:
    """Each pool's flexibility over the window's ISPs (latest computation), in MW."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select f.pool_id, p.market, count(*), round(avg(f.up_mw), 3), round(max(f.up_mw), 3),"
            " round(avg(f.down_mw), 3), round(max(f.down_mw), 3),"
            " count(*) filter (where f.up_mw >= 1 or f.down_mw >= 1)"
            " from marts.fct_pool_flex_isp f join marts.dim_pools p on p.pool_id = f.pool_id"
            " where f.isp_start >= %s and f.isp_start < %s group by 1, 2 order by 1",
            (start, end),
        ).fetchall()
    return _table(
        "Flexibility per pool over the day's ISPs, MW (10% quantile; a bid needs at least 1 MW)",
        ("pool", "market", "isps", "up mean", "up max", "down mean", "down max", "isps >= 1 MW"),
        rows or [("-", "-", 0, "-", "-", "-", "-", 0)],
    )


def bids_summary_text(url: str, start: datetime, end: datetime) -> str:
    """Each pool's bids for the window's ISPs (latest revision per bid) and the TSO's answers."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "with latest as (select distinct on (bid_mrid) * from marts.fct_bids"
            " where isp_start >= %s and isp_start < %s order by bid_mrid, revision desc)"
            " select pool_id, market, count(distinct document_mrid),"
            " count(*) filter (where quantity_mw > 0),"
            " count(*) filter (where status = 'accepted'),"
            " count(*) filter (where status = 'rejected'),"
            " coalesce(sum(quantity_mw) filter (where direction = 'up'), 0),"
            " coalesce(sum(quantity_mw) filter (where direction = 'down'), 0),"
            " min(price_eur_mwh) filter (where quantity_mw > 0),"
            " max(price_eur_mwh) filter (where quantity_mw > 0)"
            " from latest group by 1, 2 order by 1",
            (start, end),
        ).fetchall()
        documents = conn.execute(
            "select count(*), count(*) filter (where ack_status = 'accepted'),"
            " count(*) filter (where ack_status = 'rejected')"
            " from ops.tso_submissions where document_kind = 'reserve_bid'"
            " and period_start >= %s and period_start < %s",
            (start, end),
        ).fetchone()
        missed = conn.execute(
            "select count(*) from ops.alerts where alert_type = 'bid_gate_closed'"
            " and (details->>'gate')::timestamptz >= %s and (details->>'gate')::timestamptz < %s",
            (start - timedelta(hours=1), end),
        ).fetchone()
    total, accepted, rejected = documents or (0, 0, 0)
    table = _table(
        "Bids to the TSO per pool (latest revision of each bid; MW summed over the day's ISPs)",
        (
            "pool",
            "market",
            "documents",
            "bids",
            "accepted",
            "rejected",
            "MW-ISPs up",
            "MW-ISPs down",
            "min EUR/MWh",
            "max EUR/MWh",
        ),
        rows or [("-", "-", 0, 0, 0, 0, 0, 0, "-", "-")],
    )
    return (
        f"{table}\nReserveBid documents: {total} sent, {accepted} accepted (A01), "
        f"{rejected} rejected (A02); gates missed: {(missed or (0,))[0]}"
    )


def activations_summary_text(url: str, start: datetime, end: datetime) -> str:
    """The window's activations per pool: revisions, answers, MW, and how fast they went."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select pool_id, market, direction, count(distinct activation_id), count(*),"
            " count(acknowledged_at), count(responded_at),"
            " count(*) filter (where is_latest_revision and response = 'activated'),"
            " count(*) filter (where is_latest_revision"
            " and response in ('partially_activated', 'unavailable')),"
            " round(max(requested_mw), 3), round(sum(shortfall_mw) filter"
            " (where is_latest_revision), 3)"
            " from marts.fct_activations where valid_from >= %s and valid_from < %s"
            " group by 1, 2, 3 order by 1, 3",
            (start, end),
        ).fetchall()
        latency = conn.execute(
            "select round(percentile_cont(0.5) within group (order by ack)::numeric, 2),"
            " round(percentile_cont(0.95) within group (order by ack)::numeric, 2),"
            " round(percentile_cont(0.5) within group (order by resp)::numeric, 2),"
            " round(percentile_cont(0.95) within group (order by resp)::numeric, 2)"
            " from (select extract(epoch from a.acknowledged_at - a.received_at) as ack,"
            " extract(epoch from a.responded_at - a.received_at) as resp"
            " from marts.fct_activations a where a.valid_from >= %s and a.valid_from < %s) t",
            (start, end),
        ).fetchone()
        devices = conn.execute(
            "select count(distinct device_id) filter (where status = 'accepted'),"
            " count(*) filter (where status = 'failed')"
            " from marts.fct_dispatch_plans where valid_from >= %s and valid_from < %s",
            (start, end),
        ).fetchone()
    table = _table(
        "Activations from the TSO per pool (each revision acknowledged, dispatched, answered)",
        (
            "pool",
            "market",
            "direction",
            "activations",
            "revisions",
            "acknowledged",
            "answered",
            "activated",
            "short",
            "max MW",
            "shortfall MW",
        ),
        rows or [("-", "-", "-", 0, 0, 0, 0, 0, 0, "-", "-")],
    )
    ack50, ack95, resp50, resp95 = latency or (None, None, None, None)
    accepted, failed = devices or (0, 0)
    return (
        f"{table}\nReceived -> acknowledged p50/p95 {ack50}/{ack95} s, -> answered "
        f"{resp50}/{resp95} s (wall clock, in-process runs); {accepted} devices got setpoints, "
        f"{failed} setpoints refused"
    )
