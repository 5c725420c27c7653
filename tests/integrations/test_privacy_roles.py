"""The roles of migration 0022 against the real database, each boundary tried as a real login.

The module gives each group role a throwaway login (``create role ... login in role ...``, as
docs/privacy.md tells an operator), loads the bundled sample registry as the ingest login, and
builds every dbt model once as the transform login (from empty dbt schemas, so each relation
is new and owned by vppal_transform). Then each role reads what it may and is refused the
rest, and no column dbt builds is named like personal data.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sample_platform import empty_platform_tables

from integrations.database.urls import libpq_parts
from integrations.registry.loader import load_registry
from integrations.settings import DBT_PROJECT_DIR, SAMPLE_DATA_DIR

pytestmark = pytest.mark.slow

GROUPS = ("vppal_ingest", "vppal_transform", "vppal_analyst", "vppal_pii")
DBT_SCHEMAS = ("staging", "intermediate", "marts", "finance")
#: A column named like personal data: one of these words between underscores (or alone).
PERSONAL_WORDS = re.compile(
    r"(^|_)(name|e?mail|address|iban|bank_account|phone|telephone|birth_?date)(_|$)"
)
#: Columns that match but name no person, with why.
NOT_PERSONAL = {"pool_name": "the name of a pool (pools.csv), not of a person"}
DROP_DBT_RELATIONS = """
do $$
declare
    relation record;
begin
    for relation in
        select n.nspname, c.relname, c.relkind
        from pg_class as c inner join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname in ('staging', 'intermediate', 'marts', 'finance')
            and c.relkind in ('r', 'v', 'm', 'p') and not c.relispartition
    loop
        execute format(
            'drop %s if exists %I.%I cascade',
            case relation.relkind
                when 'v' then 'view' when 'm' then 'materialized view' else 'table'
            end,
            relation.nspname,
            relation.relname
        );
    end loop;
end
$$
"""


class Logins(dict[str, str]):
    """Login name per group role (and ``finance_reader``, which is a login itself)."""


def _connect(url: str, user: str, **kwargs: object) -> psycopg.Connection:
    parts = libpq_parts(url)
    return psycopg.connect(
        host=parts["host"], port=parts["port"], dbname=parts["dbname"], user=user, **kwargs
    )


def _url_as(url: str, user: str) -> str:
    parts = libpq_parts(url)
    return f"postgresql://{user}@{parts['host']}:{parts['port']}/{parts['dbname']}"


@pytest.fixture(scope="module")
def logins(db_url: str) -> Iterator[Logins]:
    """A throwaway login per group role; the ingest and transform ones act as their group."""
    suffix = secrets.token_hex(4)
    created = Logins(finance_reader="finance_reader")
    with psycopg.connect(db_url, autocommit=True) as conn:
        for group in GROUPS:
            login = f"privacy_test_{group.removeprefix('vppal_')}_{suffix}"
            conn.execute(f"create role {login} login in role {group}")
            if group in ("vppal_ingest", "vppal_transform"):
                conn.execute(f"alter role {login} set role {group}")
            created[group] = login
    yield created
    with psycopg.connect(db_url, autocommit=True) as conn:
        for group in GROUPS:
            conn.execute(f"drop owned by {created[group]}")
            conn.execute(f"drop role {created[group]}")


def _dbt_run_as(login: str, work: Path) -> subprocess.CompletedProcess[str]:
    from integrations.database.resource import PostgresResource

    PostgresResource().export_for_dbt()
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "run",
            "--target",
            "ci",
            "--profiles-dir",
            ".",
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, "VPPAL_DBT_USER": login},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def platform(db_url: str, logins: Logins, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample registry loaded as the ingest login; every dbt model built as transform."""
    empty_platform_tables(db_url)
    with psycopg.connect(db_url) as conn:
        conn.execute("truncate ops.erasures")
        conn.execute(DROP_DBT_RELATIONS)
    landing = tmp_path_factory.mktemp("landing") / "registry"
    shutil.copytree(SAMPLE_DATA_DIR / "registry", landing)
    report = load_registry(_url_as(db_url, logins["vppal_ingest"]), landing)
    assert report.rows_changed["customers"] == 149
    built = _dbt_run_as(logins["vppal_transform"], tmp_path_factory.mktemp("dbt"))
    assert built.returncode == 0, built.stdout[-3000:]
    return db_url


def _reads(url: str, user: str, relation: str) -> bool:
    """Whether ``user`` may select from ``relation`` (False: refused for lack of privilege)."""
    with _connect(url, user) as conn:
        try:
            conn.execute(f"select * from {relation} limit 1")
        except psycopg.errors.InsufficientPrivilege:
            return False
    return True


def test_dbt_built_every_model_as_vppal_transform(platform):
    with psycopg.connect(platform) as conn:
        owners = conn.execute(
            "select pg_get_userbyid(c.relowner), count(*) from pg_class as c"
            " inner join pg_namespace as n on n.oid = c.relnamespace"
            " where n.nspname = any(%s) and c.relkind in ('r', 'v', 'p')"
            " group by 1",
            (list(DBT_SCHEMAS),),
        ).fetchall()
    [(owner, count)] = owners
    assert owner == "vppal_transform" and count > 40


@pytest.mark.parametrize(
    ("group", "relation", "allowed"),
    [
        ("vppal_analyst", "marts.dim_devices", True),
        ("vppal_analyst", "marts.dim_locations", True),
        ("vppal_analyst", "finance.settlement_prosumer_isp", True),
        ("vppal_analyst", "finance.prosumer_statements", True),
        ("vppal_analyst", "ops.alerts", True),
        ("vppal_analyst", "ops.quarantine", True),
        ("vppal_analyst", "ops.erasures", False),
        ("vppal_analyst", "pii.customers", False),
        ("vppal_analyst", "raw.registry_customers", False),
        ("vppal_analyst", "raw.registry_devices", False),
        ("vppal_analyst", "raw.device_measurements", False),
        ("vppal_analyst", "raw.settlement_prosumer_isp", False),
        ("vppal_analyst", "staging.stg_registry__customers", False),
        ("vppal_analyst", "intermediate.int_site_membership_segments", False),
        ("finance_reader", "finance.settlement_tso_isp", True),
        ("finance_reader", "finance.settlement_prosumer_isp", True),
        ("finance_reader", "marts.dim_devices", False),
        ("finance_reader", "staging.stg_registry__contracts", False),
        ("finance_reader", "raw.settlement_tso_isp", False),
        ("finance_reader", "pii.customers", False),
        ("finance_reader", "ops.alerts", False),
        ("vppal_ingest", "raw.registry_customers", True),
        ("vppal_ingest", "ops.quarantine", True),
        ("vppal_ingest", "ops.erasures", True),
        ("vppal_ingest", "marts.dim_devices", True),
        ("vppal_ingest", "staging.stg_registry__contracts", True),
        ("vppal_ingest", "finance.settlement_tso_isp", True),
        ("vppal_ingest", "pii.customers", False),
        ("vppal_ingest", "(select name from pii.customers) as names", False),
        ("vppal_ingest", "(select email from pii.customers) as emails", False),
        ("vppal_ingest", "(select address from pii.customers) as addresses", False),
        ("vppal_ingest", "(select customer_id from pii.customers) as ids", True),
        ("vppal_transform", "raw.registry_customers", True),
        ("vppal_transform", "raw.device_measurements", True),
        ("vppal_transform", "ops.tso_submissions", True),
        ("vppal_transform", "pii.customers", False),
        ("vppal_transform", "(select customer_id from pii.customers) as ids", False),
        ("vppal_transform", "ops.erasures", False),
        ("vppal_pii", "pii.customers", True),
        ("vppal_pii", "ops.erasures", True),
        ("vppal_pii", "marts.dim_devices", False),
        ("vppal_pii", "marts.dim_locations", False),
        ("vppal_pii", "finance.prosumer_statements", False),
        ("vppal_pii", "raw.registry_customers", False),
        ("vppal_pii", "ops.alerts", False),
    ],
)
def test_each_role_reads_only_its_schemas(platform, logins, group, relation, allowed):
    assert _reads(platform, logins[group], relation) is allowed


@pytest.mark.parametrize(
    ("group", "statement"),
    [
        ("vppal_analyst", "insert into marts.dim_pools (pool_id, market) values ('P', 'afrr')"),
        ("vppal_analyst", "create table marts.mine (x integer)"),
        ("vppal_analyst", "create table finance.mine (x integer)"),
        ("vppal_analyst", "delete from ops.alerts"),
        ("vppal_analyst", "select * from pii.upsert_customers('[]', now())"),
        ("vppal_ingest", "update pii.customers set name = 'x'"),
        ("vppal_ingest", "delete from pii.customers"),
        ("vppal_ingest", "create table marts.mine (x integer)"),
        ("vppal_ingest", "create table pii.mine (x integer)"),
        ("vppal_ingest", "delete from ops.erasures"),
        (
            "vppal_transform",
            "insert into raw.registry_pools (pool_id, market, file_id,"
            " source_line, received_at) values ('P', 'afrr', 1, 2, now())",
        ),
        ("vppal_transform", "create table raw.mine (x integer)"),
        ("vppal_transform", "create table pii.mine (x integer)"),
        ("vppal_transform", "select * from pii.upsert_customers('[]', now())"),
        ("vppal_pii", "create table marts.mine (x integer)"),
        ("vppal_pii", "delete from raw.registry_customers"),
        ("vppal_pii", "delete from ops.erasures"),
    ],
)
def test_each_role_is_refused_writes_outside_its_schemas(platform, logins, group, statement):
    with (
        _connect(platform, logins[group]) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


def test_tables_created_later_stay_readable_by_the_right_roles(platform, logins):
    # dbt running as vppal_transform, and the migrating user (who runs dbt on one-user setups)
    with _connect(platform, logins["vppal_transform"]) as conn:
        conn.execute("create table marts.privacy_probe as select 1 as x")
        conn.execute("create view finance.privacy_probe as select 2 as x")
    with psycopg.connect(platform) as conn:
        conn.execute("create table marts.privacy_probe_owner as select 3 as x")
        conn.execute("create table ops.privacy_probe as select 4 as x")
    try:
        for relation in ("marts.privacy_probe", "finance.privacy_probe", "ops.privacy_probe"):
            assert _reads(platform, logins["vppal_analyst"], relation)
        assert _reads(platform, logins["vppal_analyst"], "marts.privacy_probe_owner")
        assert _reads(platform, "finance_reader", "finance.privacy_probe")
        assert not _reads(platform, "finance_reader", "marts.privacy_probe")
        assert _reads(platform, logins["vppal_ingest"], "marts.privacy_probe")
        assert _reads(platform, logins["vppal_transform"], "ops.privacy_probe")
        with _connect(platform, logins["vppal_ingest"]) as conn:
            conn.execute("insert into ops.privacy_probe values (5)")  # ingest writes ops
    finally:
        with psycopg.connect(platform) as conn:
            for relation in ("marts.privacy_probe", "marts.privacy_probe_owner"):
                conn.execute(f"drop table {relation}")
            conn.execute("drop view finance.privacy_probe")
            conn.execute("drop table ops.privacy_probe")


def test_the_registry_loader_as_ingest_detects_changes_without_reading_personal_data(
    platform, logins, tmp_path
):
    batch = tmp_path / "registry" / "2025-03-01_moves"
    batch.mkdir(parents=True)
    source = SAMPLE_DATA_DIR / "registry" / "2025-01-01_initial" / "customers.csv"
    header, first, second, *_ = source.read_text(encoding="utf-8").splitlines()
    moved = second.replace("@example.nl", "@example.org")
    assert moved != second
    (batch / "customers.csv").write_text(
        "\n".join([header, first, moved, "CUST-NEW-1,Nieuwe Klant,nieuw@example.nl,"]) + "\n",
        encoding="utf-8",
    )

    report = load_registry(_url_as(platform, logins["vppal_ingest"]), tmp_path / "registry")

    assert report.rows_changed["customers"] == 2  # the moved e-mail and the new customer
    assert report.rows_unchanged == 1
    customer_id = moved.split(",")[0]
    with psycopg.connect(platform) as conn:
        email = conn.execute(
            "select email from pii.customers where customer_id = %s", (customer_id,)
        ).fetchone()[0]
        versions = conn.execute(
            "select count(*) from raw.registry_customers where customer_id = %s", (customer_id,)
        ).fetchone()[0]
    assert email.endswith("@example.org") and versions == 2


def test_measurements_load_as_ingest_into_a_day_partition_it_creates(platform, logins, tmp_path):
    from integrations.measurements.loader import load_file

    path = tmp_path / "readings.csv"
    path.write_text(
        "device_id,ts,power_w\n"
        "DEV-000001,2024-06-03T10:00:00+02:00,1500\n"
        "DEV-000001,2024-06-03T10:05:00+02:00,1400\n"
        "DEV-000002,2024-06-03T10:00:00+02:00,-2000\n",
        encoding="utf-8",
    )
    result = load_file(_url_as(platform, logins["vppal_ingest"]), path)
    assert result.rows_loaded == 3
    with psycopg.connect(platform) as conn:
        owner = conn.execute(
            "select pg_get_userbyid(relowner) from pg_class"
            " where oid = 'raw.device_measurements_20240603'::regclass"
        ).fetchone()[0]
        assert owner == "vppal_ingest"
        assert conn.execute(
            "select count(*) from raw.device_measurements where ts >= %s and ts < %s",
            (datetime(2024, 6, 3, tzinfo=UTC), datetime(2024, 6, 4, tzinfo=UTC)),
        ).fetchone() == (3,)


def test_no_column_that_dbt_builds_is_named_like_personal_data(platform):
    with psycopg.connect(platform) as conn:
        columns = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " where table_schema = any(%s) order by 1, 2, 3",
            (list(DBT_SCHEMAS),),
        ).fetchall()
    assert len({(schema, table) for schema, table, _ in columns}) > 40
    personal = [
        f"{schema}.{table}.{column}"
        for schema, table, column in columns
        if PERSONAL_WORDS.search(column) and column not in NOT_PERSONAL
    ]
    assert personal == []
    # finance names customers by pseudonym only
    finance = {column for schema, _, column in columns if schema == "finance"}
    assert "customer_pseudonym" in finance and "customer_id" not in finance
    # the pattern does catch what it is meant to
    for column in ("name", "customer_name", "email", "e_mail", "billing_address", "iban"):
        assert PERSONAL_WORDS.search(column), column
