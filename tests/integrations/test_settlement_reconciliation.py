"""The reconciliation read from the raw ledger: per pool and ISP, and per Amsterdam month.

Rows are written in a transaction that is rolled back, in March 2030, a month no other test uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import psycopg
import pytest

from integrations.settlement.reconciliation import month_bounds, reconcile_isps, reconcile_month

MARCH = date(2030, 3, 1)
FIRST_ISP = datetime(2030, 2, 28, 23, 0, tzinfo=UTC)  # 00:00 on 1 March in Amsterdam
LAST_FEBRUARY_ISP = FIRST_ISP - timedelta(minutes=15)
Q = timedelta(minutes=15)


@pytest.fixture
def ledger(db_url: str) -> Iterator[psycopg.Connection]:
    """A connection whose writes are rolled back, with one settlement run recorded."""
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "insert into raw.settlement_runs (local_date, inputs_digest, isps_settled,"
            " isps_skipped, tso_rows_added, prosumer_rows_added, statements_added)"
            " values ('2030-03-01', 'test', 0, 0, 0, 0, 0)"
        )
        yield conn
        conn.rollback()


def _tso(conn, isp: datetime, version: int, revenue: str, margin: str, month=MARCH) -> None:
    conn.execute(
        "insert into raw.settlement_tso_isp (pool_id, isp_start, statement_version, month,"
        " market, requested_kwh, delivered_kwh, settled_kwh, price_kind, price_source,"
        " gross_eur, penalty_eur, revenue_eur, aggregator_margin_eur, settlement_id, created_at)"
        " values ('POOL-T', %s, %s, %s, 'afrr', 0, 0, 0, 'dispatch_up', 'test', %s, 0, %s, %s,"
        " (select max(settlement_id) from raw.settlement_runs), now())",
        (isp, version, month, D(revenue), D(revenue), D(margin)),
    )


def _payout(conn, isp: datetime, version: int, device: str, amount: str, month=MARCH) -> None:
    conn.execute(
        "insert into raw.settlement_prosumer_isp (customer_pseudonym, device_id, pool_id,"
        " isp_start, statement_version, month, contribution_kwh, payout_eur, settlement_id,"
        " created_at) values ('CP-T', %s, 'POOL-T', %s, %s, %s, 1, %s,"
        " (select max(settlement_id) from raw.settlement_runs), now())",
        (device, isp, version, month, D(amount)),
    )


def _statement(conn, version: int, total: str, cumulative: str) -> None:
    conn.execute(
        "insert into raw.prosumer_statements (customer_pseudonym, month, statement_version,"
        " total_eur, cumulative_total_eur, local_date, settlement_id, created_at)"
        " values ('CP-T', %s, %s, %s, %s, '2030-03-01',"
        " (select max(settlement_id) from raw.settlement_runs), now())",
        (MARCH, version, D(total), D(cumulative)),
    )


def test_month_bounds_are_amsterdam_midnights_in_utc():
    assert month_bounds(MARCH) == (FIRST_ISP, datetime(2030, 3, 31, 22, 0, tzinfo=UTC))
    assert month_bounds(date(2030, 12, 1))[1] == datetime(2030, 12, 31, 23, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="not the first day"):
        month_bounds(date(2030, 3, 2))


def test_a_correction_version_keeps_every_isp_and_the_month_reconciled(ledger):
    _tso(ledger, FIRST_ISP, 1, "10.00", "2.00")
    _payout(ledger, FIRST_ISP, 1, "DEV-1", "5.00")
    _payout(ledger, FIRST_ISP, 1, "DEV-2", "3.00")
    # a correction: revenue down 1.00, taken from DEV-1's payout
    _tso(ledger, FIRST_ISP, 2, "-1.00", "0.00")
    _payout(ledger, FIRST_ISP, 2, "DEV-1", "-1.00")
    _tso(ledger, FIRST_ISP + Q, 1, "0.50", "0.50")  # all margin, no payout rows
    _statement(ledger, 1, "8.00", "8.00")
    _statement(ledger, 2, "-1.00", "7.00")
    # February's last ISP is outside March (and outside the day window below)
    _tso(ledger, LAST_FEBRUARY_ISP, 1, "99.00", "0.00", month=date(2030, 2, 1))

    isps = reconcile_isps(ledger, FIRST_ISP, FIRST_ISP + timedelta(days=1))
    assert (isps.pool_isps, isps.pool_isps_off, isps.reconciles) == (2, 0, True)
    assert (isps.revenue_eur, isps.payouts_eur, isps.aggregator_margin_eur) == (
        D("9.50"),
        D("7.00"),
        D("2.50"),
    )
    month = reconcile_month(ledger, MARCH)
    assert (month.revenue_eur, month.statements_eur, month.payouts_eur) == (
        D("9.50"),
        D("7.00"),
        D("7.00"),
    )
    assert month.reconciles


def test_a_cent_in_the_wrong_isp_is_found_per_isp_though_the_month_adds_up(ledger):
    _tso(ledger, FIRST_ISP, 1, "10.00", "2.00")
    _payout(ledger, FIRST_ISP, 1, "DEV-1", "7.99")  # 0.01 short here ...
    _payout(ledger, FIRST_ISP + Q, 1, "DEV-1", "0.01")  # ... paid in an ISP with no revenue
    _statement(ledger, 1, "8.00", "8.00")

    isps = reconcile_isps(ledger, FIRST_ISP, FIRST_ISP + timedelta(days=1))
    assert (isps.pool_isps, isps.pool_isps_off, isps.off_by_eur) == (2, 2, D("0.02"))
    assert not isps.reconciles
    assert reconcile_month(ledger, MARCH).reconciles  # the month's sums hide it


def test_statements_that_differ_from_the_payouts_fail_the_month(ledger):
    _tso(ledger, FIRST_ISP, 1, "10.00", "2.00")
    _payout(ledger, FIRST_ISP, 1, "DEV-1", "8.00")
    _statement(ledger, 1, "8.01", "8.01")

    assert reconcile_isps(ledger, FIRST_ISP, FIRST_ISP + timedelta(days=1)).reconciles
    month = reconcile_month(ledger, MARCH)
    assert (month.statements_eur, month.payouts_eur) == (D("8.01"), D("8.00"))
    assert not month.reconciles
