"""The settlement flow for real: a hand-made golden day settled end to end, with corrections.

The module registers a small fleet through registry_job (three customers, an mFRR pool and an
imbalance pool, DEV-M moving from the imbalance pool to the mFRR pool at noon), writes one
reading per device and minute around 2025-02-27 and builds the hourly measurement marts with dbt,
writes frozen baselines, two activations and their dispatch (every pool member got a setpoint)
by hand, loads TenneT's real prices for the day
through settlement_prices_job, and runs settlement_job for the day. The numbers are the worked
examples of docs/finance.md (tests/domain/settlement/test_settlement_golden.py), now computed
from measurements:

* ISP 37 (09:00, dual priced): mFRR 2 MW up, delivered 1.4 MW (partial): revenue 24.17,
  DEV-1 9.73, DEV-2 8.20, DEV-3 0.00 (the wrong way), margin 6.24;
* ISP 49 (12:00): mFRR 1 MW up, fully delivered: 28.97, DEV-1 12.58, DEV-M 8.83, margin 7.56;
* the imbalance pool 100 kWh long in ISP 3 (00:30, dual priced: surplus 72.31) -> 7.23 and in
  ISP 48 (11:45) -> 6.47; 100 kWh short in ISP 49 (shortage 115.87) -> -11.59.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from sample_platform import empty_platform_tables, run_registry_job

from domain.ean import gs1_check_digit
from domain.settlement.contracts import customer_pseudonym
from integrations.measurements.store import ensure_day_partition
from integrations.settings import DBT_PROJECT_DIR, PROJECT_ROOT

pytestmark = pytest.mark.slow

D = Decimal
KEY_HEX = "5e" * 32
KEY = bytes.fromhex(KEY_HEX)
DAY = date(2025, 2, 27)
DAY_START = datetime(2025, 2, 26, 23, tzinfo=UTC)
DAY_END = datetime(2025, 2, 27, 23, tzinfo=UTC)
NOON = datetime(2025, 2, 27, 11, tzinfo=UTC)  # 12:00 Amsterdam
DST_DAY = date(2025, 10, 26)
DST_START = datetime(2025, 10, 25, 22, tzinfo=UTC)
DST_END = datetime(2025, 10, 26, 23, tzinfo=UTC)
MARGIN = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
LOAD_ID = -2727  # synthetic readings: no raw.measurement_loads row
PRICES_BUNDLED = PROJECT_ROOT / "data" / "tennet" / "settlement_prices"
PRICES_DST = PROJECT_ROOT / "tests" / "domain" / "settlement" / "data"

CUSTOMERS = {"C1": ("72", "0.06"), "C2": ("74.5", "0.20"), "C3": ("69", "0.48")}
DEVICES = {"DEV-1": "C1", "DEV-2": "C2", "DEV-3": "C3", "DEV-4": "C1", "DEV-M": "C2"}
POOLS = {"POOL-MFRR": "mfrr", "POOL-IMB": "imbalance"}
JAN = "2025-01-01T00:00:00+01:00"
MEMBERSHIPS = [
    ("DEV-1", "POOL-MFRR", JAN, ""),
    ("DEV-2", "POOL-MFRR", JAN, ""),
    ("DEV-3", "POOL-MFRR", JAN, ""),
    ("DEV-4", "POOL-IMB", JAN, ""),
    ("DEV-M", "POOL-IMB", JAN, "2025-02-27T12:00:00+01:00"),
    ("DEV-M", "POOL-MFRR", "2025-02-27T12:00:00+01:00", ""),
]
#: Device power (MW) per ISP of the golden day; the first value is the default.
DEFAULT_MW = {"DEV-1": "1.0", "DEV-2": "0.8", "DEV-3": "3.2", "DEV-4": "0.8", "DEV-M": "0.8"}
SPECIAL_MW = {
    ("DEV-1", 37): "0.2",
    ("DEV-2", 37): "0.16",
    ("DEV-3", 37): "3.24",
    ("DEV-4", 3): "0.6",
    ("DEV-M", 3): "0.6",
    ("DEV-4", 47): "0.4",
    ("DEV-M", 47): "1.0",
    ("DEV-1", 48): "0.6",
    ("DEV-2", 48): "0.64",
    ("DEV-3", 48): "1.0",
    ("DEV-4", 48): "0.24",
    ("DEV-M", 48): "0.76",
    ("DEV-1", 49): "0.0",
    ("DEV-2", 49): "0.64",
    ("DEV-3", 49): "1.0",
    ("DEV-4", 49): "0.64",
    ("DEV-M", 49): "0.36",
}
#: The baseline is the pool's measured power, except here (MW added): the imbalance pool long
#: in ISPs 3 and 48 and short in 49, the mFRR pool frozen at 5 and 3 MW in ISPs 37 and 49.
BASELINE_DELTA_MW = {
    ("POOL-IMB", 3): "0.4",
    ("POOL-IMB", 48): "0.4",
    ("POOL-IMB", 49): "-0.4",
    ("POOL-MFRR", 37): "1.4",
    ("POOL-MFRR", 49): "1.0",
}
ACTIVATIONS = [  # (id, pool, direction, MW, ISP number)
    ("ACT-1", "POOL-MFRR", "up", "2", 37),
    ("ACT-2", "POOL-MFRR", "up", "1", 49),
]
#: The DST day: the imbalance pool (DEV-4 alone) 100 kWh long in ISPs 10 and 14, the first
#: and the repeated 02:15 (00:15 and 01:15 UTC), priced -42.11 and -20.66 (surplus).
DST_LONG = (10, 14)


def isp(number: int, start: datetime = DAY_START) -> datetime:
    """The UTC start of ISP ``number`` of the local day starting at ``start``."""
    return start + timedelta(minutes=15 * (number - 1))


def pseudonym(customer: str) -> str:
    return customer_pseudonym(customer, KEY)


def _query(url: str, sql: str, params: tuple | dict = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _ean(prefix: str, number: int) -> str:
    data = f"{prefix}{number:011d}"
    return data + str(gs1_check_digit(data))


def _write_csv(path: Path, header: list[str], rows: list[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _write_registry(batch: Path) -> None:
    batch.mkdir(parents=True)
    customers = list(CUSTOMERS)
    _write_csv(
        batch / "customers.csv",
        ["customer_id", "name", "email", "address"],
        [(c, f"Klant {c}", f"{c.lower()}@example.nl", "Teststraat 1, Demodam") for c in customers],
    )
    _write_csv(
        batch / "locations.csv",
        ["location_id", "customer_id", "ean"],
        [(f"LOC-{c}", c, _ean("871685", n)) for n, c in enumerate(customers, start=1)],
    )
    _write_csv(
        batch / "sites.csv",
        ["site_id", "location_id", "ean"],
        [
            (f"SITE-{d}", f"LOC-{c}", _ean("871694", n))
            for n, (d, c) in enumerate(DEVICES.items(), start=1)
        ],
    )
    _write_csv(
        batch / "devices.csv",
        [
            "device_id",
            "site_id",
            "device_type",
            "rated_power_kw",
            "controllable",
            "oem",
            "strike_price_eur_mwh",
        ],
        [(d, f"SITE-{d}", "battery", "5000", "true", "", "") for d in DEVICES],
    )
    _write_csv(
        batch / "pools.csv",
        ["pool_id", "market", "name"],
        [(p, m, p) for p, m in POOLS.items()],
    )
    _write_csv(
        batch / "memberships.csv", ["device_id", "pool_id", "valid_from", "valid_to"], MEMBERSHIPS
    )
    _write_csv(
        batch / "contracts.csv",
        ["customer_id", "revenue_share_pct", "fee_eur_per_activation", "valid_from", "valid_to"],
        [(c, pct, fee, JAN, "") for c, (pct, fee) in CUSTOMERS.items()],
    )


def _number(ts: datetime, day_start: datetime) -> int:
    return int((ts - day_start) // timedelta(minutes=15)) + 1


def golden_mw(device: str, ts: datetime) -> Decimal:
    """The device's power (MW) at ``ts`` on the golden day."""
    return D(SPECIAL_MW.get((device, _number(ts, DAY_START)), DEFAULT_MW[device]))


def dst_mw(device: str, ts: datetime) -> Decimal:
    """The DST day: every device at its default power; DEV-4 lower in the long ISPs."""
    if device == "DEV-4" and _number(ts, DST_START) in DST_LONG:
        return D("0.4")
    return D(DEFAULT_MW[device])


def pool_of(device: str, ts: datetime) -> str:
    if device == "DEV-M":
        return "POOL-IMB" if ts < NOON else "POOL-MFRR"
    return "POOL-IMB" if device == "DEV-4" else "POOL-MFRR"


def _write_readings(conn: psycopg.Connection, start: datetime, end: datetime, power) -> None:
    """One reading per device and minute over [start - 1 h, end + 1 h), replacing others."""
    day = (start - MARGIN).replace(hour=0)
    while day < end + MARGIN:
        ensure_day_partition(conn, day)
        day += timedelta(days=1)
    conn.execute(
        "delete from raw.device_measurements where ts >= %s and ts < %s",
        (start - MARGIN, end + MARGIN),
    )
    with conn.cursor().copy(
        "copy raw.device_measurements (device_id, ts, power_w, load_id, received_at) from stdin"
    ) as copy:
        ts = start - MARGIN
        while ts < end + MARGIN:
            for device in DEVICES:
                copy.write_row((device, ts, float(power(device, ts) * 1_000_000), LOAD_ID, end))
            ts += MINUTE


def _dbt(args: list[str], work: Path) -> None:
    """Run dbt in the project against the test database, with its own target and logs."""
    from integrations.database.resource import PostgresResource

    PostgresResource().export_for_dbt()
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            *args,
            "--target",
            "ci",
            "--profiles-dir",
            ".",
            "--target-path",
            str(work / "target"),  # keep the shared target/ and logs/ untouched
            "--log-path",
            str(work / "logs"),
        ],
        cwd=DBT_PROJECT_DIR,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]


def _dbt_build_hours(start: datetime, end: datetime, work: Path) -> None:
    """``dbt build`` of the hourly measurement models for [start, end)."""
    window = json.dumps({"min_ts": start.isoformat(), "max_ts": end.isoformat()})
    _dbt(["build", "--select", "tag:partitioned_hourly", "--vars", window], work)


def _write_baselines(
    conn: psycopg.Connection, start: datetime, end: datetime, power, deltas: dict
) -> None:
    """Each pool's 10-minute baseline per minute: its measured power plus the deltas."""
    conn.execute(
        "delete from raw.pool_baselines where target_ts >= %s and target_ts < %s", (start, end)
    )
    blocks = [
        (isp(number), isp(number) + timedelta(minutes=30)) for *_, number in ACTIVATIONS
    ]  # activation + 15 min recovery
    with conn.cursor().copy(
        "copy raw.pool_baselines (pool_id, issued_at, horizon_min, target_ts, method,"
        " baseline_mw, frozen, cutoff_ts) from stdin"
    ) as copy:
        ts = start
        while ts < end:
            for pool in POOLS:
                measured = sum((power(d, ts) for d in DEVICES if pool_of(d, ts) == pool), D(0))
                delta = D(deltas.get((pool, _number(ts, start)), "0"))
                block = next((b for b in blocks if pool == "POOL-MFRR" and b[0] <= ts < b[1]), None)
                issued = ts - timedelta(minutes=10)
                cutoff = min(issued, block[0]) if block else issued
                copy.write_row(
                    (pool, issued, 10, ts, "hand_made", measured + delta, block is not None, cutoff)
                )
            ts += MINUTE


def _run(job: str, instance: dg.DagsterInstance | None = None, **kwargs: object):
    from orchestration.definitions import defs
    from orchestration.resources import build_resources

    return defs.resolve_job_def(job).execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        resources=build_resources(),
        **kwargs,
    )


def _load_prices(folder: Path) -> None:
    result = _run(
        "settlement_prices_job",
        run_config={"ops": {"raw__settlement_prices": {"config": {"folders": [str(folder)]}}}},
    )
    assert result.success


def _settle(day: date, exports: Path) -> dg.ExecuteInProcessResult:
    result = _run(
        "settlement_job",
        partition_key=day.isoformat(),
        run_config={"ops": {"exports__finance": {"config": {"folder": str(exports)}}}},
    )
    assert result.success
    return result


@pytest.fixture(scope="module")
def pseudonym_key() -> Iterator[None]:
    previous = os.environ.get("VPPAL_PSEUDONYM_KEY")
    os.environ["VPPAL_PSEUDONYM_KEY"] = KEY_HEX
    yield
    if previous is None:
        os.environ.pop("VPPAL_PSEUDONYM_KEY", None)
    else:
        os.environ["VPPAL_PSEUDONYM_KEY"] = previous


def _write_dispatch(
    conn: psycopg.Connection, activation_id: str, pool: str, direction: str, mw: str, number: int
) -> None:
    """The dispatch of an activation: every member of the pool at its start got a setpoint."""
    start, end = isp(number), isp(number + 1)
    members = [
        device
        for device, member_pool, valid_from, valid_to in MEMBERSHIPS
        if member_pool == pool
        and datetime.fromisoformat(valid_from) <= start
        and (not valid_to or start < datetime.fromisoformat(valid_to))
    ]
    kw = Decimal(mw) * 1000
    conn.execute(
        "insert into raw.dispatch_runs (activation_id, revision, pool_id, direction,"
        " requested_kw, planned_kw, accepted_kw, shortfall_kw, response)"
        " values (%s, 1, %s, %s, %s, %s, %s, 0, 'activated')",
        (activation_id, pool, direction, kw, kw, kw),
    )
    for device in members:
        conn.execute(
            "insert into raw.dispatch_setpoints (activation_id, revision, device_id, pool_id,"
            " setpoint_kw, valid_from, valid_to, status) values (%s, 1, %s, %s, %s, %s, %s,"
            " 'accepted')",
            (activation_id, device, pool, kw / len(members), start, end),
        )


@pytest.fixture(scope="module")
def registry(db_url, simulators, pseudonym_key, tmp_path_factory) -> str:
    """The hand-made fleet registered through registry_job; settlement tables emptied."""
    landing = tmp_path_factory.mktemp("landing") / "registry"
    _write_registry(landing / "2025-01-01_golden")
    empty_platform_tables(db_url)
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "truncate raw.settlement_runs, raw.settlement_delivery_isp, raw.settlement_tso_isp,"
            " raw.settlement_prosumer_isp, raw.prosumer_statements, raw.settlement_skipped,"
            " raw.settlement_prices, raw.settlement_price_files, raw.pool_baselines,"
            " raw.tso_activations cascade"
        )
    assert run_registry_job(landing).success
    return db_url


@pytest.fixture(scope="module")
def golden(registry, tmp_path_factory) -> str:
    """The golden day's readings, hourly marts, baselines, activations and prices."""
    url = registry
    with psycopg.connect(url) as conn:
        _write_readings(conn, DAY_START, DAY_END, golden_mw)
        for table, column in (
            ("marts.fct_device_energy_isp", "isp_start"),
            ("marts.fct_pool_energy_isp", "isp_start"),
            ("marts.fct_pool_power", "ts"),
        ):
            if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is not None:
                conn.execute(
                    f"delete from {table} where {column} >= %s and {column} < %s",
                    (DAY_START - MARGIN, DAY_END + MARGIN),
                )
    work = tmp_path_factory.mktemp("dbt")
    _dbt_build_hours(DAY_START - MARGIN, DAY_END, work)
    # the baseline views, which baseline_backtest_job builds on the platform
    _dbt(["run", "--select", "stg_baselines__pool_baselines", "fct_pool_baselines"], work)
    with psycopg.connect(url) as conn:
        _write_baselines(conn, DAY_START, DAY_END, golden_mw, BASELINE_DELTA_MW)
        for activation_id, pool, direction, mw, number in ACTIVATIONS:
            conn.execute(
                "insert into raw.tso_activations (activation_id, revision, pool_id, market,"
                " direction, requested_mw, valid_from, valid_to) values (%s, 1, %s, 'mfrr', %s,"
                " %s, %s, %s)",
                (activation_id, pool, direction, mw, isp(number), isp(number + 1)),
            )
            _write_dispatch(conn, activation_id, pool, direction, mw, number)
    _load_prices(PRICES_BUNDLED)
    return url


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="module")
def settled(golden, exports) -> dg.ExecuteInProcessResult:
    """settlement_job for the golden day."""
    return _settle(DAY, exports)


def _version_one_tso(url: str) -> dict[tuple[str, int], tuple]:
    rows = _query(
        url,
        "select pool_id, isp_start, market, requested_kwh, delivered_kwh, settled_kwh,"
        " price_eur_mwh, price_kind, gross_eur, penalty_eur, revenue_eur, aggregator_margin_eur"
        " from finance.settlement_tso_isp where statement_version = 1"
        " and isp_start >= %s and isp_start < %s",
        (DAY_START, DAY_END),
    )
    return {(r[0], _number(r[1], DAY_START)): r[2:] for r in rows}


def _version_one_payouts(url: str) -> dict[tuple[str, str, int], Decimal]:
    rows = _query(
        url,
        "select device_id, pool_id, isp_start, payout_eur from finance.settlement_prosumer_isp"
        " where statement_version = 1 and isp_start >= %s and isp_start < %s",
        (DAY_START, DAY_END),
    )
    return {(d, p, _number(t, DAY_START)): payout for d, p, t, payout in rows}


# -- the sensor: only a complete day, once per input digest ----------------------------------


def _report_hour(
    instance: dg.DagsterInstance, hour: str, *, passed: bool = True, aggregated: bool = True
) -> None:
    """Record what a measurements_hourly_job run leaves in Dagster's event log for an hour."""
    raw = dg.AssetKey(["raw", "device_measurements"])
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=raw, partition=hour))
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=raw, check_name="passes_measurement_quality_suite", passed=passed
        )
    )
    if aggregated:
        for name in ("fct_device_energy_isp", "fct_pool_power"):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=dg.AssetKey(["marts", name]), partition=hour)
            )


def _tick(instance: dg.DagsterInstance) -> dg.SensorResult:
    from integrations.database.resource import PostgresResource
    from sensors.settlement import price_file_fingerprints, settlement_sensor

    cursor = json.dumps({"price_files": price_file_fingerprints()})  # prices are loaded
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"postgres": PostgresResource()}
    )
    return settlement_sensor(context)


def _settlement_requests(result: dg.SensorResult) -> list[dg.RunRequest]:
    return [r for r in result.run_requests or [] if r.job_name == "settlement_job"]


def test_the_sensor_launches_a_day_only_when_complete_and_once_per_input_digest(golden, exports):
    from integrations.settlement.readiness import hour_partitions

    instance = dg.DagsterInstance.ephemeral()
    hours = hour_partitions(DAY)
    assert len(hours) == 24
    assert not _settlement_requests(_tick(instance))  # nothing measured yet

    for hour in hours[:-1]:
        _report_hour(instance, hour)
    _report_hour(instance, hours[-1], passed=False)  # the last hour failed its checks
    assert not _settlement_requests(_tick(instance))

    _report_hour(instance, hours[-1], aggregated=False)  # reloaded, passes, not aggregated yet
    assert not _settlement_requests(_tick(instance))

    _report_hour(instance, hours[-1])
    [request] = _settlement_requests(_tick(instance))
    assert request.partition_key == "2025-02-27"
    assert request.run_key.startswith("settlement-2025-02-27-")
    assert [r.run_key for r in _settlement_requests(_tick(instance))] == [request.run_key]

    _settle(DAY, exports)  # the run the request launches
    assert not _settlement_requests(_tick(instance))  # settled with these inputs

    with psycopg.connect(golden) as conn:  # a new revision of ACT-2: same content, new digest
        conn.execute(
            "insert into raw.tso_activations (activation_id, revision, pool_id, market,"
            " direction, requested_mw, valid_from, valid_to) select activation_id, 2, pool_id,"
            " market, direction, requested_mw, valid_from, valid_to from raw.tso_activations"
            " where activation_id = 'ACT-2' and revision = 1"
        )
    [again] = _settlement_requests(_tick(instance))
    assert again.run_key != request.run_key and again.run_key.startswith("settlement-2025-02-27-")


def test_a_new_price_file_is_loaded_before_any_day_is_judged(golden):
    from integrations.database.resource import PostgresResource
    from sensors.settlement import settlement_sensor

    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), resources={"postgres": PostgresResource()}
    )
    result = settlement_sensor(context)  # no cursor: the bundled price file is new to it
    [request] = result.run_requests
    assert request.job_name == "settlement_prices_job"
    assert "price_files" in json.loads(result.cursor)


# -- the golden day --------------------------------------------------------------------------


def test_delivery_per_activation_and_isp(settled, golden):
    rows = _query(
        golden,
        "select activation_id, revision, pool_id, isp_start, direction, requested_kwh,"
        " measured_kwh, baseline_kwh, delivered_kwh, delivery_ratio, shortfall_kwh, coverage"
        " from marts.fct_delivery_isp order by activation_id",
    )
    assert [(r[0], *r[2:5]) for r in rows] == [
        ("ACT-1", "POOL-MFRR", isp(37), "up"),
        ("ACT-2", "POOL-MFRR", isp(49), "up"),
    ]
    latest = dict(
        _query(golden, "select activation_id, max(revision) from raw.tso_activations group by 1")
    )
    assert [r[1] for r in rows] == [latest["ACT-1"], latest["ACT-2"]]  # the final revision
    # ACT-1: 2 MW asked, 5 -> 3.6 MW: 350 of 500 kWh (partial); ACT-2: 1 MW, 3 -> 2 MW: all
    assert [r[5:] for r in rows] == [
        (D("500"), D("900"), D("1250"), D("350"), D("0.7"), D("150"), D("1")),
        (D("250"), D("500"), D("750"), D("250"), D("1"), D("0"), D("1")),
    ]


def test_tso_settlement_of_the_golden_isps(settled, golden):
    tso = _version_one_tso(golden)
    # market, requested, delivered, settled, price, kind, gross, penalty, revenue, margin
    assert tso[("POOL-MFRR", 37)] == (
        "mfrr", D("500"), D("350"), D("350"), D("120.87"), "dispatch_up",
        D("42.30"), D("18.13"), D("24.17"), D("6.24"),
    )  # fmt: skip
    assert tso[("POOL-MFRR", 49)] == (
        "mfrr", D("250"), D("250"), D("250"), D("115.87"), "dispatch_up",
        D("28.97"), D("0.00"), D("28.97"), D("7.56"),
    )  # fmt: skip
    assert tso[("POOL-IMB", 3)] == (  # dual priced, long: the surplus price
        "imbalance", D("0"), D("100"), D("100"), D("72.31"), "surplus",
        D("7.23"), D("0.00"), D("7.23"), D("1.94"),
    )  # fmt: skip
    assert tso[("POOL-IMB", 48)][6:] == (D("6.47"), D("0.00"), D("6.47"), D("1.72"))
    assert tso[("POOL-IMB", 49)] == (  # short: the shortage price, -11.587 -> -11.59
        "imbalance", D("0"), D("-100"), D("-100"), D("115.87"), "shortage",
        D("-11.59"), D("0.00"), D("-11.59"), D("-11.59"),
    )  # fmt: skip
    # the imbalance pool is settled in every ISP of the day, the mFRR pool only when activated
    assert sorted(n for pool, n in tso if pool == "POOL-IMB") == list(range(1, 97))
    assert sorted(n for pool, n in tso if pool == "POOL-MFRR") == [37, 49]
    quiet = [row for (pool, n), row in tso.items() if pool == "POOL-IMB" and n not in (3, 48, 49)]
    assert {row[8] for row in quiet} == {D("0.00")}


def test_prosumer_payouts_follow_contribution_contract_and_the_pool_at_each_isp(settled, golden):
    payouts = _version_one_payouts(golden)
    assert {k: v for k, v in payouts.items() if k[2] == 37} == {
        ("DEV-1", "POOL-MFRR", 37): D("9.73"),
        ("DEV-2", "POOL-MFRR", 37): D("8.20"),
        ("DEV-3", "POOL-MFRR", 37): D("0.00"),  # delivered the wrong way: no share, no fee
        ("DEV-4", "POOL-IMB", 37): D("0.00"),
        ("DEV-M", "POOL-IMB", 37): D("0.00"),
    }
    # DEV-M moved to the mFRR pool at noon: ISP 48 in the imbalance pool, ISP 49 in the mFRR
    assert {k: v for k, v in payouts.items() if k[2] in (3, 48, 49) and v} == {
        ("DEV-4", "POOL-IMB", 3): D("2.60"),
        ("DEV-M", "POOL-IMB", 3): D("2.69"),
        ("DEV-4", "POOL-IMB", 48): D("1.86"),
        ("DEV-M", "POOL-IMB", 48): D("2.89"),
        ("DEV-1", "POOL-MFRR", 49): D("12.58"),
        ("DEV-M", "POOL-MFRR", 49): D("8.83"),
    }
    assert ("DEV-M", "POOL-IMB", 49) not in payouts
    assert ("DEV-M", "POOL-MFRR", 48) not in payouts
    # nobody is named: customers only by their keyed pseudonym
    pseudonyms = {
        r[0]
        for r in _query(golden, "select customer_pseudonym from finance.settlement_prosumer_isp")
    }
    assert pseudonyms == {pseudonym(c) for c in CUSTOMERS}


def test_monthly_statements_version_one(settled, golden):
    rows = _query(
        golden,
        "select customer_pseudonym, month, total_eur, cumulative_total_eur, settlement_date"
        " from finance.prosumer_statements where statement_version = 1",
    )
    assert {r[0]: r[1:] for r in rows} == {
        pseudonym("C1"): (date(2025, 2, 1), D("26.77"), D("26.77"), DAY),  # 9.73+12.58+2.60+1.86
        pseudonym("C2"): (date(2025, 2, 1), D("22.61"), D("22.61"), DAY),  # 8.20+2.69+2.89+8.83
        pseudonym("C3"): (date(2025, 2, 1), D("0.00"), D("0.00"), DAY),
    }


def _reconciliation(url: str) -> tuple[list[tuple], list[tuple]]:
    per_isp = _query(
        url,
        "with tso as (select pool_id, isp_start, sum(revenue_eur) r, sum(aggregator_margin_eur) m"
        " from finance.settlement_tso_isp group by 1, 2), p as (select pool_id, isp_start,"
        " sum(payout_eur) s from finance.settlement_prosumer_isp group by 1, 2)"
        " select tso.pool_id, tso.isp_start, r, m, coalesce(s, 0) from tso left join p"
        " using (pool_id, isp_start) where r <> m + coalesce(s, 0)",
    )
    per_month = _query(
        url,
        "select t.month, t.r, t.m, s.total from (select month, sum(revenue_eur) r,"
        " sum(aggregator_margin_eur) m from finance.settlement_tso_isp group by 1) t"
        " join (select month, sum(total_eur) total from finance.prosumer_statements group by 1) s"
        " using (month)",
    )
    return per_isp, per_month


def test_payouts_and_margin_reconcile_to_the_cent_per_isp_and_per_month(settled, golden):
    per_isp, per_month = _reconciliation(golden)
    assert per_isp == []
    for _month, revenue, margin, statements in per_month:
        assert revenue == statements + margin
    [(month, revenue, margin, statements)] = per_month
    assert (month, revenue, margin, statements) == (
        date(2025, 2, 1), D("55.25"), D("5.87"), D("49.38"),
    )  # fmt: skip
    # and the dbt test of the same invariant passed in the run (an asset check)
    [check] = [
        e
        for e in settled.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["intermediate", "int_settlement_isps_reconciled"])
        and "reconciles" in e.check_name
        and "accepted_values" in e.check_name
    ]
    assert check.passed


def test_the_summary_shows_revenue_margin_top_payouts_and_the_reconciliation(settled, golden):
    from integrations.settlement.summary import settlement_summary_text

    text = settlement_summary_text(golden, DAY_START, DAY_END)
    print(text)
    assert (
        "TSO revenue 55.25 EUR = prosumer payouts 49.38 EUR (3 prosumers)"
        " + aggregator margin 5.87 EUR"
    ) in text
    top = text.split("Top 10 prosumer payouts")[1].splitlines()
    assert [line.split()[0] for line in top[2:4]] == [pseudonym("C1"), pseudonym("C2")]
    assert "26.77" in top[2] and "22.61" in top[3]
    assert "Reconciliation per pool and ISP: every ISP to the cent" in text
    assert "2025-02  55.25    49.38       5.87    True" in text


def test_the_finance_tables_are_exported_as_csv_and_parquet(settled, golden, exports):
    import pyarrow.parquet as pq

    folder = exports / DAY.isoformat()
    manifest = json.loads((folder / "manifest.json").read_text())
    for table in ("settlement_tso_isp", "settlement_prosumer_isp", "prosumer_statements"):
        [[count]] = _query(
            golden,
            f"select count(*) from finance.{table} where "
            + (
                "settlement_date = %s"
                if table == "prosumer_statements"
                else "isp_start >= %s and isp_start < %s"
            ),
            (DAY,) if table == "prosumer_statements" else (DAY_START, DAY_END),
        )
        with (folder / f"{table}.csv").open(newline="") as handle:
            assert len(list(csv.DictReader(handle))) == count
        parquet = pq.read_table(folder / f"{table}.parquet")
        assert parquet.num_rows == count == manifest["tables"][table]["rows"]
    tso = pq.read_table(folder / "settlement_tso_isp.parquet").to_pylist()
    row = next(r for r in tso if r["pool_id"] == "POOL-MFRR" and r["statement_version"] == 1)
    assert row["revenue_eur"] == D("24.17")  # exact decimals, not floats
    assert str(pq.read_schema(folder / "settlement_tso_isp.parquet").field("revenue_eur").type) == (
        "decimal128(14, 2)"
    )


def test_settling_the_same_inputs_again_adds_no_version(settled, golden, exports):
    before = _query(golden, "select count(*), max(statement_version) from raw.settlement_tso_isp")
    result = _settle(DAY, exports)
    assert (
        _query(golden, "select count(*), max(statement_version) from raw.settlement_tso_isp")
        == before
    )
    metadata = {
        e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    assert metadata[dg.AssetKey(["raw", "settlement_tso_isp"])]["rows_added"].value == 0


# -- corrections ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def late_data(settled, golden, exports, tmp_path_factory) -> str:
    """Late readings of DEV-2 in ISP 37 (0.06 MW instead of 0.16): the hour rebuilt, resettled."""
    with psycopg.connect(golden) as conn:
        conn.execute(
            "update raw.device_measurements set power_w = 60000 where device_id = 'DEV-2'"
            " and ts >= %s and ts < %s",
            (isp(37), isp(38)),
        )
        conn.execute(
            "delete from marts.fct_device_energy_isp where isp_start >= %s and isp_start < %s",
            (isp(37), isp(41)),
        )
    _dbt_build_hours(isp(37), isp(41), tmp_path_factory.mktemp("dbt"))
    _settle(DAY, exports)
    return golden


def test_late_data_adds_a_version_with_the_difference(late_data):
    url = late_data
    tso = _query(
        url,
        "select pool_id, isp_start, statement_version, delivered_kwh, gross_eur, penalty_eur,"
        " revenue_eur, aggregator_margin_eur from finance.settlement_tso_isp"
        " where statement_version > 1",
    )
    # 5 -> 3.5 MW: 375 kWh, gross 45.33 (+3.03), penalty 13.60 (-4.53), revenue 31.73 (+7.56)
    assert tso == [("POOL-MFRR", isp(37), 2, D("25"), D("3.03"), D("-4.53"), D("7.56"), D("2.00"))]
    payouts = _query(
        url,
        "select device_id, customer_pseudonym, statement_version, contribution_kwh, payout_eur"
        " from finance.settlement_prosumer_isp where statement_version > 1 order by device_id",
    )
    # DEV-1 11.93 (+2.20), DEV-2 11.56 (+3.36, +25 kWh); DEV-3 unchanged: no row
    assert payouts == [
        ("DEV-1", pseudonym("C1"), 2, D("0"), D("2.20")),
        ("DEV-2", pseudonym("C2"), 2, D("25"), D("3.36")),
    ]
    statements = _query(
        url,
        "select customer_pseudonym, statement_version, total_eur, cumulative_total_eur"
        " from finance.prosumer_statements where statement_version > 1 order by 3",
    )
    assert statements == [
        (pseudonym("C1"), 2, D("2.20"), D("28.97")),
        (pseudonym("C2"), 2, D("3.36"), D("25.97")),
    ]
    # version 1 stays as it was: nothing is overwritten
    assert _version_one_tso(url)[("POOL-MFRR", 37)][6:] == (
        D("42.30"), D("18.13"), D("24.17"), D("6.24"),
    )  # fmt: skip
    per_isp, per_month = _reconciliation(url)
    assert per_isp == []
    assert [(r, m, s) for _, r, m, s in per_month] == [(D("62.81"), D("7.87"), D("54.94"))]


@pytest.fixture(scope="module")
def revised_price(late_data, exports, tmp_path_factory) -> str:
    """TenneT revises ISP 49's upward dispatch price from 115.87 to 125.87."""
    folder = tmp_path_factory.mktemp("revised_prices")
    source = next(PRICES_BUNDLED.glob("*.csv")).read_text(encoding="utf-8")
    revised = source.replace(
        "2025-02-27T12:00,2025-02-27T12:15,49,EUR,MWh,NO,NO,115.87,",
        "2025-02-27T12:00,2025-02-27T12:15,49,EUR,MWh,NO,NO,125.87,",
    )
    assert revised != source
    (folder / "tennet_settlement_prices_revised.csv").write_text(revised, encoding="utf-8")
    _load_prices(folder)
    _settle(DAY, exports)
    return late_data


def test_a_revised_price_adds_a_version(revised_price):
    url = revised_price
    tso = _query(
        url,
        "select pool_id, isp_start, statement_version, price_eur_mwh, gross_eur, revenue_eur,"
        " aggregator_margin_eur from finance.settlement_tso_isp where statement_version > 2",
    )
    # 250 kWh x 125.87 = 31.4675 -> 31.47 (+2.50); the imbalance pool's shortage price is apart
    [(pool, start, version, price, gross, revenue, margin)] = tso
    assert (pool, start, version, price, gross, revenue) == (
        "POOL-MFRR", isp(49), 3, D("125.87"), D("2.50"), D("2.50"),
    )  # fmt: skip
    payouts = dict(
        _query(
            url,
            "select device_id, payout_eur from finance.settlement_prosumer_isp"
            " where isp_start = %s and pool_id = 'POOL-MFRR' and statement_version = 3",
            (isp(49),),
        )
    )
    assert sum(payouts.values()) + margin == revenue
    per_isp, per_month = _reconciliation(url)
    assert per_isp == []
    for _month, revenue_total, margin_total, statements in per_month:
        assert revenue_total == statements + margin_total


# -- who may read what ------------------------------------------------------------------------


def _as_finance_reader(url: str, sql: str) -> list[tuple]:
    from integrations.database.urls import libpq_parts

    parts = libpq_parts(url)
    with psycopg.connect(
        host=parts["host"], port=parts["port"], dbname=parts["dbname"], user="finance_reader"
    ) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize(
    "table",
    [
        "raw.settlement_tso_isp",
        "raw.device_measurements",
        "raw.registry_contracts",
        "pii.customers",
        "marts.dim_devices",
        "marts.fct_delivery_isp",
        "staging.stg_registry__customers",
        "intermediate.int_settlement_isps_reconciled",
        "ops.quarantine",
    ],
)
def test_finance_reader_cannot_read_raw_marts_or_personal_data(settled, golden, table):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as_finance_reader(golden, f"select * from {table} limit 1")


def test_finance_reader_reads_every_finance_table_and_writes_none(settled, golden):
    for table in ("settlement_tso_isp", "settlement_prosumer_isp", "prosumer_statements"):
        assert _as_finance_reader(golden, f"select count(*) from finance.{table}")[0][0] > 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as_finance_reader(golden, "create table finance.mine (x int)")


# -- a DST day --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dst_settled(registry, exports, tmp_path_factory) -> str:
    """2025-10-26 (25 hours, 100 ISPs): readings, marts, baselines, prices, settlement."""
    url = registry
    with psycopg.connect(url) as conn:
        _write_readings(conn, DST_START, DST_END, dst_mw)
        for table, column in (
            ("marts.fct_device_energy_isp", "isp_start"),
            ("marts.fct_pool_energy_isp", "isp_start"),
            ("marts.fct_pool_power", "ts"),
        ):
            conn.execute(
                f"delete from {table} where {column} >= %s and {column} < %s",
                (DST_START - MARGIN, DST_END + MARGIN),
            )
    _dbt_build_hours(DST_START - MARGIN, DST_END, tmp_path_factory.mktemp("dbt"))
    with psycopg.connect(url) as conn:
        deltas = {("POOL-IMB", n): "0.4" for n in DST_LONG}
        _write_baselines(conn, DST_START, DST_END, dst_mw, deltas)
    prices = tmp_path_factory.mktemp("dst_prices")
    name = "tennet_settlement_prices_2025-10-26.csv"
    (prices / name).write_bytes((PRICES_DST / name).read_bytes())
    _load_prices(prices)
    _settle(DST_DAY, exports)
    return url


def test_a_dst_day_settles_its_100_isps_by_isp_number(dst_settled):
    rows = _query(
        dst_settled,
        "select isp_start, price_eur_mwh, price_kind, gross_eur, month"
        " from finance.settlement_tso_isp where pool_id = 'POOL-IMB'"
        " and isp_start >= %s and isp_start < %s order by isp_start",
        (DST_START, DST_END),
    )
    assert len(rows) == 100
    assert {row[4] for row in rows} == {date(2025, 10, 1)}
    by_start = {row[0]: row[1:4] for row in rows}
    # local 02:15 twice: ISP 10 (CEST, 00:15 UTC) and ISP 14 (CET, 01:15 UTC), each its price;
    # long at a negative surplus price costs money
    assert by_start[datetime(2025, 10, 26, 0, 15, tzinfo=UTC)] == (
        D("-42.11"),
        "surplus",
        D("-4.21"),
    )
    assert by_start[datetime(2025, 10, 26, 1, 15, tzinfo=UTC)] == (
        D("-20.66"),
        "surplus",
        D("-2.07"),
    )
    assert sum(row[3] for row in rows) == D("-6.28")
    per_isp, _ = _reconciliation(dst_settled)
    assert per_isp == []


def test_a_revised_activation_is_read_with_every_revision_from_its_start(golden):
    from domain.settlement.delivery import requested_kwh
    from integrations.settlement.inputs import plan_day

    start = datetime(2025, 2, 28, 9, tzinfo=UTC)
    with psycopg.connect(golden) as conn:
        for revision, mw, minutes in ((1, "1", 0), (2, "2", 5), (3, "0", 10)):
            conn.execute(
                "insert into raw.tso_activations (activation_id, revision, pool_id, market,"
                " direction, requested_mw, valid_from, valid_to) values ('ACT-REVISED', %s,"
                " 'POOL-MFRR', 'mfrr', 'up', %s, %s, %s)",
                (revision, mw, start + timedelta(minutes=minutes), start + timedelta(minutes=15)),
            )
        plan = plan_day(conn, date(2025, 2, 28))
        conn.rollback()  # nothing stays: the golden day's tests read the same tables
    [revised] = [a for a in plan.activations if a.activation_id == "ACT-REVISED"]
    # ran from the first revision's start until the 0 MW revision ended it
    assert (revised.valid_from, revised.valid_to) == (start, start + timedelta(minutes=10))
    assert revised.requested_mw == D("1.000")
    assert revised.revisions == ((start + timedelta(minutes=5), D("2.000")),)
    # 5 min x 1 MW + 5 min x 2 MW = 250 kWh
    assert requested_kwh(revised, start, start + timedelta(minutes=15)) == 250
    assert plan.revisions["ACT-REVISED"] == 3
