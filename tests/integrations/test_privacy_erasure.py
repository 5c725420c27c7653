"""Erasure of a prosumer on a settled day: personal data gone, every settlement total kept.

The module registers three customers (C1 owns two of the imbalance pool's four batteries),
writes a day of readings (2025-02-27) and baselines that leave the pool long and short in
three ISPs, loads TenneT's prices, builds every dbt model once and settles the day with the
platform's own settlement asset. Then, as a vppal_pii login, it erases C1, loads the
registry again (the redacted file and a re-landed copy of the original), and settles the
day again. Finance must not see a cent of difference.
"""

from __future__ import annotations

import csv
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import psycopg.rows
import pytest
from sample_platform import empty_platform_tables

from domain.ean import gs1_check_digit
from domain.settlement.contracts import customer_pseudonym
from integrations.database.urls import libpq_parts
from integrations.privacy.erasure import ErasureReport, erase_customer
from integrations.registry.loader import LoadReport, load_registry
from integrations.settings import DBT_PROJECT_DIR, PROJECT_ROOT

pytestmark = pytest.mark.slow

KEY_HEX = "a7" * 32
KEY = bytes.fromhex(KEY_HEX)
DAY = date(2025, 2, 27)
DAY_START = datetime(2025, 2, 26, 23, tzinfo=UTC)
DAY_END = datetime(2025, 2, 27, 23, tzinfo=UTC)
MARGIN = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
LOAD_ID = -8888  # synthetic readings: no raw.measurement_loads row
PRICES = PROJECT_ROOT / "data" / "tennet" / "settlement_prices"
BATCH = "2025-01-01_privacy"
POOL = "POOL-PRIVACY-IMB"
CUSTOMERS = {
    "C1": ("Anna Erasmus", "anna.erasmus@example.nl", "Kade 1, 1000 AA Demodam"),
    "C2": ("Bert Blijft", "bert.blijft@example.nl", "Dorp 2, 2000 BB Proefdorp"),
    "C3": ("Cor Blijft", "cor.blijft@example.nl", "Weg 3, 3000 CC Fictiehoven"),
}
DEVICES = {"PRV-D1": "C1", "PRV-D2": "C2", "PRV-D3": "C3", "PRV-D4": "C1"}
#: Each device's power (MW) in ISPs that differ from 0.8 MW: less in 3 and 48 (long, paid),
#: more in 49 (short); the baseline adds these deltas (MW) to the pool's measured power.
SPECIAL_MW = {3: "0.6", 47: "0.9", 48: "0.7", 49: "0.9"}
BASELINE_DELTA_MW = {3: "0.4", 48: "0.4", 49: "-0.4"}
REGISTRY_TABLES = (
    "raw.registry_customers",
    "raw.registry_locations",
    "raw.registry_sites",
    "raw.registry_devices",
    "raw.registry_pools",
    "raw.registry_memberships",
    "raw.registry_contracts",
)
FINANCE_VIEWS = {
    "finance.settlement_tso_isp": "pool_id, isp_start, statement_version",
    "finance.settlement_prosumer_isp": (
        "customer_pseudonym, device_id, isp_start, statement_version"
    ),
    "finance.prosumer_statements": "customer_pseudonym, month, statement_version",
}


def _ean(prefix: str, number: int) -> str:
    data = f"{prefix}{number:011d}"
    return data + str(gs1_check_digit(data))


def _write_csv(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _write_registry(batch: Path) -> None:
    batch.mkdir(parents=True)
    jan = "2025-01-01T00:00:00+01:00"
    _write_csv(
        batch / "customers.csv",
        ["customer_id", "name", "email", "address"],
        [(c, *personal) for c, personal in CUSTOMERS.items()],
    )
    _write_csv(
        batch / "locations.csv",
        ["location_id", "customer_id", "ean"],
        [(f"LOC-{c}", c, _ean("871687", n)) for n, c in enumerate(CUSTOMERS, start=1)],
    )
    _write_csv(
        batch / "sites.csv",
        ["site_id", "location_id", "ean"],
        [(f"SITE-{d}", f"LOC-{c}", _ean("871697", n)) for n, (d, c) in enumerate(DEVICES.items())],
    )
    _write_csv(
        batch / "devices.csv",
        ["device_id", "site_id", "device_type", "rated_power_kw", "controllable", "oem"],
        [(d, f"SITE-{d}", "battery", "5000", "true", "") for d in DEVICES],
    )
    _write_csv(batch / "pools.csv", ["pool_id", "market", "name"], [(POOL, "imbalance", "")])
    _write_csv(
        batch / "memberships.csv",
        ["device_id", "pool_id", "valid_from", "valid_to"],
        [(d, POOL, jan, "") for d in DEVICES],
    )
    _write_csv(
        batch / "contracts.csv",
        ["customer_id", "revenue_share_pct", "fee_eur_per_activation", "valid_from", "valid_to"],
        [(c, "70", "0", jan, "") for c in CUSTOMERS],
    )


def _device_mw(ts: datetime) -> Decimal:
    number = int((ts - DAY_START) // timedelta(minutes=15)) + 1
    return Decimal(SPECIAL_MW.get(number, "0.8")) if DAY_START <= ts < DAY_END else Decimal("0.8")


def _write_readings_and_baselines(url: str) -> None:
    from integrations.measurements.store import ensure_day_partition

    with psycopg.connect(url) as conn:
        day = (DAY_START - MARGIN).replace(hour=0)
        while day < DAY_END + MARGIN:
            ensure_day_partition(conn, day)
            day += timedelta(days=1)
        conn.execute(
            "delete from raw.device_measurements where ts >= %s and ts < %s",
            (DAY_START - MARGIN, DAY_END + MARGIN),
        )
        conn.execute("delete from raw.pool_baselines where pool_id = %s", (POOL,))
        with conn.cursor().copy(
            "copy raw.device_measurements (device_id, ts, power_w, load_id, received_at) from stdin"
        ) as copy:
            ts = DAY_START - MARGIN
            while ts < DAY_END + MARGIN:
                for device in DEVICES:
                    copy.write_row(
                        (device, ts, float(_device_mw(ts) * 1_000_000), LOAD_ID, DAY_END)
                    )
                ts += MINUTE
        with conn.cursor().copy(
            "copy raw.pool_baselines (pool_id, issued_at, horizon_min, target_ts, method,"
            " baseline_mw, frozen, cutoff_ts) from stdin"
        ) as copy:
            ts = DAY_START
            while ts < DAY_END:
                number = int((ts - DAY_START) // timedelta(minutes=15)) + 1
                measured = _device_mw(ts) * len(DEVICES)
                baseline = measured + Decimal(BASELINE_DELTA_MW.get(number, "0"))
                issued = ts - timedelta(minutes=10)
                copy.write_row((POOL, issued, 10, ts, "hand_made", baseline, False, issued))
                ts += MINUTE


def _dbt_run(work: Path) -> None:
    from integrations.database.resource import PostgresResource

    PostgresResource().export_for_dbt()
    completed = subprocess.run(
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
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]


def _settle(url: str) -> None:
    """The platform's settlement asset for the day (the ledger; finance views read it)."""
    from assets.settlement.settle import settle_day
    from integrations.database.resource import PostgresResource

    result = dg.materialize(
        [settle_day],
        partition_key=DAY.isoformat(),
        instance=dg.DagsterInstance.ephemeral(),
        resources={"postgres": PostgresResource(url_override=url)},
    )
    assert result.success


def _query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _finance(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        view: _query(url, f"select * from {view} order by {keys}")
        for view, keys in FINANCE_VIEWS.items()
    }


def _totals_per_pool_isp(url: str) -> dict[tuple[str, datetime], tuple[Decimal, ...]]:
    """Per pool and ISP over every version: revenue, margin, and the payouts' sum."""
    rows = _query(
        url,
        "select t.pool_id, t.isp_start, t.revenue, t.margin, coalesce(p.payout, 0)"
        " from (select pool_id, isp_start, sum(revenue_eur) as revenue,"
        "       sum(aggregator_margin_eur) as margin from finance.settlement_tso_isp"
        "       group by 1, 2) as t"
        " left join (select pool_id, isp_start, sum(payout_eur) as payout"
        "       from finance.settlement_prosumer_isp group by 1, 2) as p"
        "   using (pool_id, isp_start)",
    )
    return {(pool, isp): (revenue, margin, payout) for pool, isp, revenue, margin, payout in rows}


def _statement_totals(url: str) -> dict[tuple[str, date], tuple[Decimal, int]]:
    rows = _query(
        url,
        "select customer_pseudonym, month, sum(total_eur), max(statement_version)"
        " from finance.prosumer_statements group by 1, 2",
    )
    return {(p, month): (total, version) for p, month, total, version in rows}


def _digest(url: str) -> str:
    from integrations.settlement.inputs import inputs_digest, plan_day

    with psycopg.connect(url) as conn:
        return inputs_digest(conn, plan_day(conn, DAY))


def _registry(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: _query(url, f"select * from {table} order by 1, file_id, source_line")
        for table in REGISTRY_TABLES
    }


@dataclass(frozen=True)
class State:
    """What the platform showed at one moment."""

    finance: dict[str, list[tuple[Any, ...]]]
    pool_isp_totals: dict[tuple[str, datetime], tuple[Decimal, ...]]
    statement_totals: dict[tuple[str, date], tuple[Decimal, int]]
    digest: str
    registry: dict[str, list[tuple[Any, ...]]]
    runs: int

    @classmethod
    def of(cls, url: str) -> State:
        """Read it."""
        return cls(
            finance=_finance(url),
            pool_isp_totals=_totals_per_pool_isp(url),
            statement_totals=_statement_totals(url),
            digest=_digest(url),
            registry=_registry(url),
            runs=_query(url, "select count(*) from raw.settlement_runs")[0][0],
        )


@dataclass(frozen=True)
class Erasure:
    """The platform before and after C1's erasure, and what each step reported."""

    before: State
    erased: State
    after: State
    report: ErasureReport
    reload: LoadReport
    relanded: LoadReport
    landing: Path
    original: bytes
    pii_login: str
    last_run: tuple[Any, ...]


@pytest.fixture(scope="module")
def pseudonym_key() -> Iterator[None]:
    previous = os.environ.get("VPPAL_PSEUDONYM_KEY")
    os.environ["VPPAL_PSEUDONYM_KEY"] = KEY_HEX
    yield
    if previous is None:
        os.environ.pop("VPPAL_PSEUDONYM_KEY", None)
    else:
        os.environ["VPPAL_PSEUDONYM_KEY"] = previous


@pytest.fixture(scope="module")
def logins(db_url: str) -> Iterator[dict[str, str]]:
    """Throwaway logins: an operator handling erasure requests, and the pipeline."""
    suffix = secrets.token_hex(4)
    created = {
        "vppal_pii": f"privacy_test_eraser_{suffix}",
        "vppal_ingest": f"privacy_test_pipeline_{suffix}",
    }
    with psycopg.connect(db_url, autocommit=True) as conn:
        for group, login in created.items():
            conn.execute(f"create role {login} login in role {group}")
        conn.execute(f"alter role {created['vppal_ingest']} set role vppal_ingest")
    yield created
    with psycopg.connect(db_url, autocommit=True) as conn:
        for login in created.values():
            conn.execute(f"drop owned by {login}")
            conn.execute(f"drop role {login}")


def _url_as(url: str, user: str) -> str:
    parts = libpq_parts(url)
    return f"postgresql://{user}@{parts['host']}:{parts['port']}/{parts['dbname']}"


@pytest.fixture(scope="module")
def settled(
    db_url: str,
    pseudonym_key: None,
    logins: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The registry loaded, the day measured, built by dbt and settled; the landing folder.

    The pipeline's steps (registry load, settlement) run as the vppal_ingest login.
    """
    empty_platform_tables(db_url)
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "truncate ops.erasures, raw.settlement_runs, raw.settlement_delivery_isp,"
            " raw.settlement_tso_isp, raw.settlement_prosumer_isp, raw.prosumer_statements,"
            " raw.settlement_skipped, raw.settlement_prices, raw.settlement_price_files,"
            " raw.tso_activations cascade"
        )
    pipeline = _url_as(db_url, logins["vppal_ingest"])
    landing = tmp_path_factory.mktemp("landing") / "registry"
    _write_registry(landing / BATCH)
    assert load_registry(pipeline, landing).rows_changed["customers"] == 3
    _write_readings_and_baselines(db_url)
    from integrations.settlement.prices import load_price_folders

    load_price_folders(pipeline, [PRICES])
    _dbt_run(tmp_path_factory.mktemp("dbt"))
    _settle(pipeline)
    return landing


@pytest.fixture(scope="module")
def erasure(db_url: str, settled: Path, logins: dict[str, str]) -> Erasure:
    """C1 erased as the pii login; the registry loaded again, an old copy re-landed; settled.

    The registry loads and the settlement run as the vppal_ingest login, as in ``settled``.
    """
    landing = settled
    pipeline = _url_as(db_url, logins["vppal_ingest"])
    original = (landing / BATCH / "customers.csv").read_bytes()
    before = State.of(db_url)
    report = erase_customer(
        _url_as(db_url, logins["vppal_pii"]),
        "C1",
        reason="data subject request PRIV-2026-001",
        landing=landing,
    )
    erased = State.of(db_url)
    reload = load_registry(pipeline, landing)  # the redacted file is new content: read again
    (landing / "2025-03-01_old_copy").mkdir()
    (landing / "2025-03-01_old_copy" / "customers.csv").write_bytes(original)
    relanded = load_registry(pipeline, landing)
    _settle(pipeline)
    after = State.of(db_url)
    last_run = _query(
        db_url,
        "select inputs_digest, tso_rows_added, prosumer_rows_added, statements_added"
        " from raw.settlement_runs order by settlement_id desc limit 1",
    )[0]
    return Erasure(
        before=before,
        erased=erased,
        after=after,
        report=report,
        reload=reload,
        relanded=relanded,
        landing=landing,
        original=original,
        pii_login=logins["vppal_pii"],
        last_run=last_run,
    )


def test_the_day_is_settled_and_the_customer_to_erase_is_paid(erasure):
    pseudonym = customer_pseudonym("C1", KEY)
    assert erasure.before.runs == 1
    statements = erasure.before.statement_totals
    assert statements[(pseudonym, date(2025, 2, 1))][0] > 0
    assert {p for p, _ in statements} == {customer_pseudonym(c, KEY) for c in CUSTOMERS}
    assert any(revenue > 0 for revenue, *_ in erasure.before.pool_isp_totals.values())


def test_erasure_deletes_the_personal_data_and_records_only_the_pseudonym(db_url, erasure):
    report = erasure.report
    assert report.customer_pseudonym == customer_pseudonym("C1", KEY)
    assert report.personal_rows_deleted == 1 and not report.already_erased
    assert report.files_redacted == (erasure.landing / BATCH / "customers.csv",)
    assert report.records_redacted == 1 and report.files_unreadable == ()
    assert _query(db_url, "select customer_id from pii.customers order by 1") == [
        ("C2",),
        ("C3",),
    ]
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        [register] = conn.execute("select * from ops.erasures").fetchall()
    assert register["customer_pseudonym"] == report.customer_pseudonym
    assert register["reason"] == "data subject request PRIV-2026-001"
    assert register["erased_by"] == erasure.pii_login
    assert register["personal_rows_deleted"] == 1 and register["landed_records_redacted"] == 1
    assert "C1" not in register.values()
    text = " ".join(map(str, register.values()))
    assert not any(value in text for value in CUSTOMERS["C1"])


def test_the_landed_file_keeps_its_lines_without_the_customers_data(erasure):
    redacted = (erasure.landing / BATCH / "customers.csv").read_text(encoding="utf-8")
    assert not any(value in redacted for value in CUSTOMERS["C1"])
    rows = list(csv.reader(redacted.splitlines()))
    assert rows == [
        ["customer_id", "name", "email", "address"],
        ["C1", "", "", ""],
        ["C2", *CUSTOMERS["C2"]],
        ["C3", *CUSTOMERS["C3"]],
    ]


def test_every_finance_total_is_unchanged_by_the_erasure(erasure):
    before, erased, after = erasure.before, erasure.erased, erasure.after
    assert erased.finance == before.finance  # every row of every finance view
    assert after.finance == before.finance
    assert erased.pool_isp_totals == before.pool_isp_totals
    assert after.pool_isp_totals == before.pool_isp_totals
    assert erased.statement_totals == before.statement_totals
    assert after.statement_totals == before.statement_totals
    # the history stays under the pseudonym the erasure register names
    assert any(p == erasure.report.customer_pseudonym for p, _ in after.statement_totals)


def test_a_later_settlement_of_the_day_reads_the_same_inputs_adds_nothing_and_reconciles(
    erasure,
):
    assert erasure.erased.digest == erasure.before.digest
    assert erasure.after.digest == erasure.before.digest
    assert erasure.after.runs == erasure.before.runs + 1
    digest, tso_rows, prosumer_rows, statements = erasure.last_run
    assert digest == erasure.before.digest
    assert (tso_rows, prosumer_rows, statements) == (0, 0, 0)
    for revenue, margin, payout in erasure.after.pool_isp_totals.values():
        assert payout + margin == revenue  # to the cent, per pool and ISP


def test_registry_files_that_bring_the_customer_back_are_refused(db_url, erasure):
    assert erasure.reload.files_loaded == [f"registry/{BATCH}/customers.csv"]
    assert erasure.reload.rows_changed["customers"] == 0
    assert erasure.reload.quarantined == {"erased_customer": 1}
    assert erasure.relanded.files_loaded == ["registry/2025-03-01_old_copy/customers.csv"]
    assert erasure.relanded.rows_changed["customers"] == 0
    assert erasure.relanded.rows_unchanged == 2  # C2 and C3
    assert erasure.relanded.quarantined == {"erased_customer": 1}
    assert erasure.after.registry == erasure.before.registry  # no new version anywhere
    assert _query(db_url, "select count(*) from pii.customers where customer_id = 'C1'") == [(0,)]
    refused = _query(
        db_url,
        "select record::text, reason from ops.quarantine where reason_code = 'erased_customer'",
    )
    assert len(refused) == 2
    assert not any(value in str(refused) for value in CUSTOMERS["C1"])


def test_the_cli_erases_refuses_unknown_ids_and_reasons_with_personal_data(
    db_url, pseudonym_key, tmp_path, capsys
):
    from integrations.cli import main

    landing = tmp_path / "registry"
    (landing / "2025-04-01_cli").mkdir(parents=True)
    (landing / "2025-04-01_cli" / "customers.csv").write_text(
        "customer_id,name,email,address\n"
        "C8,Hans Wissel,hans@example.nl,Plein 8\n"
        "C9,Ines Blijft,ines@example.nl,Plein 9\n",
        encoding="utf-8",
    )
    load_registry(db_url, landing)
    base = ["privacy", "erase", "--landing", str(landing)]

    assert main([*base, "C8", "--reason", "ticket 8"]) == 0
    out = capsys.readouterr().out
    assert customer_pseudonym("C8", KEY) in out and "personal data rows deleted: 1" in out
    assert "Hans" not in out and "hans@" not in out
    assert main([*base, "C8", "--reason", "ticket 8, again"]) == 0
    assert "erased before" in capsys.readouterr().out

    assert main([*base, "C-NOPE", "--reason", "typo"]) == 1
    assert "C-NOPE is not registered" in capsys.readouterr().err
    assert main([*base, "C9", "--reason", "asked by Ines Blijft"]) == 1
    assert "refused: the reason must not contain" in capsys.readouterr().err
    assert _query(db_url, "select customer_id from pii.customers where customer_id = 'C9'") == [
        ("C9",)
    ]
    assert "Ines Blijft" in (landing / "2025-04-01_cli" / "customers.csv").read_text()
