"""The finance_reader role: SELECT on schema finance and nothing else (migration 0016).

The flow test (tests/orchestration/test_settlement_flow.py) checks the same on the finance
tables dbt builds; this one needs only the migrated database.
"""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from integrations.database.urls import libpq_parts


def _as_finance_reader(url: str) -> psycopg.Connection:
    parts = libpq_parts(url)
    return psycopg.connect(
        host=parts["host"], port=parts["port"], dbname=parts["dbname"], user="finance_reader"
    )


@pytest.fixture
def finance_table(db_url: str):
    """A table created in schema finance after the migration, as dbt creates its models."""
    with psycopg.connect(db_url) as conn:
        conn.execute("drop table if exists finance.reader_check")
        conn.execute("create table finance.reader_check (amount_eur numeric(14, 2))")
        conn.execute("insert into finance.reader_check values (1.23)")
    yield "finance.reader_check"
    with psycopg.connect(db_url) as conn:
        conn.execute("drop table finance.reader_check")


def test_finance_reader_logs_in_and_reads_new_finance_tables(db_url, finance_table):
    with _as_finance_reader(db_url) as conn:
        assert conn.execute(f"select amount_eur from {finance_table}").fetchall() == [
            (Decimal("1.23"),)
        ]


@pytest.mark.parametrize(
    "table",
    [
        "pii.customers",
        "raw.registry_customers",
        "raw.device_measurements",
        "raw.settlement_prosumer_isp",
        "raw.settlement_prices",
        "ops.alerts",
    ],
)
def test_finance_reader_cannot_read_personal_or_raw_data(db_url, table):
    with _as_finance_reader(db_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"select * from {table} limit 1")


@pytest.mark.parametrize(
    "statement",
    [
        "insert into finance.reader_check values (9.99)",
        "delete from finance.reader_check",
        "create table finance.mine (x integer)",
        "create table public.mine (x integer)",
        "create schema mine",
    ],
)
def test_finance_reader_writes_nothing(db_url, finance_table, statement):
    with _as_finance_reader(db_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
