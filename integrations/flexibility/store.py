"""Pool flexibility in PostgreSQL: who is in which pool, which sites are excluded, the results.

Reads the registry marts (``marts.fct_device_pool_membership``, ``marts.dim_devices``,
``marts.site_market_status``) and writes ``raw.pool_flex_isp`` and ``raw.pool_flex_ladder``,
where every computation is kept under its ``computed_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd
import psycopg

#: The columns of raw.pool_flex_isp a run writes, in insert order.
POOL_FLEX_ROW_COLUMNS = (
    "pool_id",
    "isp_start",
    "up_mw",
    "down_mw",
    "method",
    "states_at",
    "computed_at",
    "run_id",
)

Period = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class PoolMember:
    """A device in a pool at an instant, with the registry facts its flexibility needs."""

    pool_id: str
    market: str
    device_id: str
    site_id: str
    device_type: str
    rated_power_kw: float
    controllable: bool
    strike_price_eur_mwh: Decimal | None


def pool_members(conn: psycopg.Connection, at: datetime) -> list[PoolMember]:
    """The pool members whose membership holds at ``at`` (half-open), by pool and device.

    The device facts (type, rated power, controllable, strike price) are the registry's
    current ones: ``marts.dim_devices`` keeps one version per device.
    """
    if at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no UTC offset")
    rows = conn.execute(
        "select m.pool_id, m.market, m.device_id, d.site_id, d.device_type,"
        " d.rated_power_kw::double precision, coalesce(d.controllable, false),"
        " d.strike_price_eur_mwh"
        " from marts.fct_device_pool_membership m"
        " join marts.dim_devices d on d.device_id = m.device_id"
        " where m.valid_from <= %(at)s and (m.valid_to is null or m.valid_to > %(at)s)"
        " order by m.pool_id, m.device_id",
        {"at": at},
    ).fetchall()
    return [PoolMember(*row) for row in rows]


def site_exclusions(
    conn: psycopg.Connection, start: datetime, end: datetime
) -> dict[str, tuple[Period, ...]]:
    """Per site, the periods overlapping [start, end) in which it is excluded.

    Excluded means ``excluded_from_disaggregation`` in ``marts.site_market_status`` (the
    site-exclusivity rule: its devices are on more than one market at once). Periods are
    [valid_from, valid_to), ``None`` = open, as ``PoolDevice.excluded_periods`` takes them.
    """
    rows = conn.execute(
        "select site_id, valid_from, valid_to from marts.site_market_status"
        " where excluded_from_disaggregation and valid_from < %s"
        " and (valid_to is null or valid_to > %s) order by site_id, valid_from",
        (end, start),
    ).fetchall()
    periods: dict[str, list[Period]] = {}
    for site_id, valid_from, valid_to in rows:
        periods.setdefault(site_id, []).append((valid_from, valid_to))
    return {site_id: tuple(found) for site_id, found in periods.items()}


def insert_pool_flex(
    conn: psycopg.Connection, rows: pd.DataFrame, computed_at: datetime, run_id: str | None
) -> int:
    """Add one computation's rows (pool_id, isp_start, up_mw, down_mw, method, states_at).

    All rows get ``computed_at`` and ``run_id``; earlier computations stay. Returns the rows
    written.
    """
    if computed_at.utcoffset() is None:
        raise ValueError(f"computed_at {computed_at.isoformat()} has no UTC offset")
    columns = ", ".join(POOL_FLEX_ROW_COLUMNS)
    with (
        conn.cursor() as cursor,
        cursor.copy(f"copy raw.pool_flex_isp ({columns}) from stdin") as copy,
    ):
        for row in rows.itertuples(index=False):
            copy.write_row(
                (
                    str(row.pool_id),
                    pd.Timestamp(row.isp_start).to_pydatetime(),
                    Decimal(f"{float(row.up_mw):.3f}"),
                    Decimal(f"{float(row.down_mw):.3f}"),
                    str(row.method),
                    pd.Timestamp(row.states_at).to_pydatetime(),
                    computed_at,
                    run_id,
                )
            )
    return len(rows)


def insert_pool_flex_ladder(
    conn: psycopg.Connection, ladders: pd.DataFrame, computed_at: datetime
) -> int:
    """Add one computation's ladder rows (``domain.flexibility.pool.LADDER_COLUMNS``).

    Cumulative MW are rounded down to the kW, as the ladder itself cuts them, so a stored
    level never promises more than was computed. Returns the rows written.
    """
    if computed_at.utcoffset() is None:
        raise ValueError(f"computed_at {computed_at.isoformat()} has no UTC offset")
    from domain.bidding.quantities import floor_kw

    with (
        conn.cursor() as cursor,
        cursor.copy(
            "copy raw.pool_flex_ladder (pool_id, isp_start, direction, strike_price_eur_mwh,"
            " cumulative_mw, computed_at) from stdin"
        ) as copy,
    ):
        for row in ladders.itertuples(index=False):
            copy.write_row(
                (
                    str(row.pool_id),
                    pd.Timestamp(row.isp_start).to_pydatetime(),
                    str(row.direction),
                    Decimal(str(row.strike_price_eur_mwh)),
                    Decimal(floor_kw(row.cumulative_mw)) / 1000,
                    computed_at,
                )
            )
    return len(ladders)
