"""Does the settlement ledger reconcile to the cent? Per pool and ISP, and per month.

The same arithmetic as the dbt models ``int_settlement_isps_reconciled`` and
``int_settlement_months_reconciled``, read straight from the raw ledger, so the settlement run
can report it in the transaction that wrote the rows (the dbt views are built after it):

* per pool and ISP, summed over all statement versions: revenue = payouts + aggregator margin;
* per Europe/Amsterdam month: revenue = statements + margin, and statements = payouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import psycopg

MARKET_TZ = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True)
class IspReconciliation:
    """Per pool and ISP of a window, over all versions: how many reconcile, and the sums (EUR)."""

    pool_isps: int
    pool_isps_off: int
    off_by_eur: Decimal
    revenue_eur: Decimal
    payouts_eur: Decimal
    aggregator_margin_eur: Decimal

    @property
    def reconciles(self) -> bool:
        """True when every pool-ISP has revenue = payouts + margin, to the cent."""
        return self.pool_isps_off == 0


@dataclass(frozen=True)
class MonthReconciliation:
    """One Europe/Amsterdam month over all versions (EUR)."""

    month: date
    revenue_eur: Decimal
    statements_eur: Decimal
    payouts_eur: Decimal
    aggregator_margin_eur: Decimal

    @property
    def reconciles(self) -> bool:
        """True when revenue = statements + margin and the statements equal the payouts."""
        return (
            self.revenue_eur == self.statements_eur + self.aggregator_margin_eur
            and self.statements_eur == self.payouts_eur
        )


ISP_QUERY = """
with tso as (
    select pool_id, isp_start, sum(revenue_eur) as revenue, sum(aggregator_margin_eur) as margin
    from raw.settlement_tso_isp
    where isp_start >= %(start)s and isp_start < %(end)s
    group by pool_id, isp_start
),
payouts as (
    select pool_id, isp_start, sum(payout_eur) as paid
    from raw.settlement_prosumer_isp
    where isp_start >= %(start)s and isp_start < %(end)s
    group by pool_id, isp_start
),
joined as (
    select
        coalesce(tso.revenue, 0) as revenue,
        coalesce(payouts.paid, 0) as paid,
        coalesce(tso.margin, 0) as margin
    from tso full outer join payouts using (pool_id, isp_start)
)
select
    count(*),
    count(*) filter (where revenue <> paid + margin),
    coalesce(sum(abs(revenue - paid - margin)), 0),
    coalesce(sum(revenue), 0),
    coalesce(sum(paid), 0),
    coalesce(sum(margin), 0)
from joined
"""

MONTH_QUERY = """
select
    (select coalesce(sum(revenue_eur), 0) from raw.settlement_tso_isp
     where isp_start >= %(start)s and isp_start < %(end)s),
    (select coalesce(sum(total_eur), 0) from raw.prosumer_statements where month = %(month)s),
    (select coalesce(sum(payout_eur), 0) from raw.settlement_prosumer_isp
     where isp_start >= %(start)s and isp_start < %(end)s),
    (select coalesce(sum(aggregator_margin_eur), 0) from raw.settlement_tso_isp
     where isp_start >= %(start)s and isp_start < %(end)s)
"""


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The UTC instants where the Europe/Amsterdam month starting on ``month`` begins and ends."""
    if month.day != 1:
        raise ValueError(f"{month} is not the first day of a month")
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    start = datetime(month.year, month.month, 1, tzinfo=MARKET_TZ)
    end = datetime(following.year, following.month, 1, tzinfo=MARKET_TZ)
    return start, end


def reconcile_isps(conn: psycopg.Connection, start: datetime, end: datetime) -> IspReconciliation:
    """Every pool-ISP in [start, end) with ledger rows, over all versions."""
    row = conn.execute(ISP_QUERY, {"start": start, "end": end}).fetchone()
    assert row is not None  # an aggregate always returns a row
    count, off, off_by, revenue, paid, margin = row
    return IspReconciliation(int(count), int(off), off_by, revenue, paid, margin)


def reconcile_month(conn: psycopg.Connection, month: date) -> MonthReconciliation:
    """The Europe/Amsterdam month starting on ``month``, over all versions."""
    start, end = month_bounds(month)
    row = conn.execute(MONTH_QUERY, {"start": start, "end": end, "month": month}).fetchone()
    assert row is not None
    revenue, statements, paid, margin = row
    return MonthReconciliation(month, revenue, statements, paid, margin)
