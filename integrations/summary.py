"""What the platform holds, printed for people (``vppal summary`` and the end of ``make demo``)."""

from __future__ import annotations

from datetime import datetime

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
