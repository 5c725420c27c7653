"""The registry job for real: Dagster materialisations, dbt build with tests, HTTP simulators."""

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sample_platform import build_sample_registry, run_registry_job

from integrations.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow


def _query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def built(db_url, simulators, tmp_path_factory):
    """The sample registry built once for this module; returns (url, landing, first result)."""

    landing, result = build_sample_registry(db_url, tmp_path_factory.mktemp("landing"))
    return db_url, landing, result


def test_the_job_succeeds_and_every_dbt_test_passes_as_an_asset_check(built):
    _, _, result = built
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) >= 40
    assert all(check.passed for check in checks), [c.check_name for c in checks if not c.passed]


def test_the_registry_marts_hold_the_sample_fleet(built):
    url, _, _ = built
    counts = dict(
        _query(
            url,
            "select 'locations', count(*) from marts.dim_locations union all"
            " select 'sites', count(*) from marts.dim_sites union all"
            " select 'devices', count(*) from marts.dim_devices union all"
            " select 'pools', count(*) from marts.dim_pools",
        )
    )
    # 520 initial + 3 new in the changes batch + 4 good onboardings from the device cloud
    # the generated fleet and its changes, then one neighbourhood battery per pool
    assert counts == {"locations": 161 + 9, "sites": 217 + 9, "devices": 527 + 9, "pools": 9}
    markets = {row[0] for row in _query(url, "select distinct market from marts.dim_pools")}
    assert len(markets) >= 3


def test_conflicted_sites_are_excluded_only_while_the_conflict_lasts(built):
    url, _, _ = built
    rows = _query(
        url,
        "select site_id, valid_from, valid_to, markets, excluded_from_disaggregation"
        " from marts.site_market_status where site_id = 'SITE-000031' order by valid_from",
    )
    excluded = [(r[1].isoformat(), r[2].isoformat(), r[3]) for r in rows if r[4]]
    assert excluded == [
        ("2025-02-14T23:00:00+00:00", "2025-02-19T23:00:00+00:00", ["congestion", "imbalance"])
    ]
    assert not rows[-1][4]  # exclusive again after the conflict
    on_demo_day = _query(
        url,
        "select site_id from marts.site_market_status where excluded_from_disaggregation"
        " and valid_from <= '2025-02-27 12:00+01'"
        " and (valid_to is null or valid_to > '2025-02-27 12:00+01')"
        " order by site_id",
    )
    assert [r[0] for r in on_demo_day] == ["SITE-000179", "SITE-000196"]


def test_one_alert_per_conflict_naming_devices_pools_markets_and_since(built):
    url, _, _ = built
    alerts = _query(
        url,
        "select entity_id, details, opened_at, closed_at from ops.alerts"
        " where alert_type = 'site_market_conflict' order by entity_id",
    )
    assert [a[0] for a in alerts] == ["SITE-000031", "SITE-000179", "SITE-000196"]
    ended, open_one, _ = alerts
    assert ended[3] is not None and open_one[3] is None
    details = open_one[1]
    assert details["markets"] == ["congestion", "imbalance"]
    assert "DEV-000413" in details["device_ids"]
    assert "POOL-CONGESTION-1" in details["pool_ids"]
    assert details["since"].startswith("2025-02-1")


def test_a_past_isp_is_settled_with_the_membership_valid_then(built):
    url, _, _ = built
    # DEV-000267 moved from POOL-AFRR-2 to POOL-AFRR-1 on 2025-02-15
    before, after = (
        _query(
            url,
            "select pool_id from marts.fct_device_pool_membership where device_id = 'DEV-000267'"
            f" and valid_from <= '{ts}' and (valid_to is null or valid_to > '{ts}')",
        )
        for ts in ("2025-02-10 12:00+01", "2025-02-27 12:00+01")
    )
    assert before == [("POOL-AFRR-2",)] and after == [("POOL-AFRR-1",)]


def test_devices_are_registered_with_the_tso_and_the_answers_recorded(built):
    url, _, _ = built
    rows = _query(
        url,
        "select status, count(*), count(tso_reference), min(answered_at) is not null"
        " from ops.tso_registrations group by status",
    )
    controllable = _query(url, "select count(*) from marts.dim_devices where controllable")[0][0]
    assert rows == [("accepted", controllable, controllable, True)]


def test_onboardings_are_mapped_to_sites_or_quarantined(built):
    url, _, _ = built
    onboarded = _query(
        url, "select device_id, site_id from marts.dim_devices where device_id like '%-2025030%'"
    )
    assert len(onboarded) == 4
    refused = _query(
        url,
        "select source, reason_code from ops.quarantine where source like 'device-cloud%'"
        " or source like 'registry/device-cloud_%' order by 1",
    )
    assert refused == [
        ("device-cloud/onboardings", "unknown_site"),
        ("registry/device-cloud_00000001-00000006/devices.csv", "non_positive_rated_power"),
    ]


def test_rerunning_the_job_changes_no_table(built):
    url, landing, _ = built
    tables = [
        "marts.dim_devices",
        "marts.fct_device_pool_membership",
        "marts.site_market_status",
        "ops.quarantine",
        "raw.registry_devices",
    ]

    def snapshot():
        return {t: _query(url, f"select * from {t} order by 1, 2") for t in tables}

    alerts_before = _query(
        url, "select alert_key, opened_at, closed_at, details from ops.alerts order by 1"
    )
    registrations_before = _query(url, "select count(*) from ops.tso_registrations")
    before = snapshot()
    assert run_registry_job(landing).success
    assert snapshot() == before
    assert (
        _query(url, "select alert_key, opened_at, closed_at, details from ops.alerts order by 1")
        == alerts_before
    )
    assert _query(url, "select count(*) from ops.tso_registrations") == registrations_before


def test_the_exclusivity_rule_dbt_unit_tests_pass(built):
    dbt = str(Path(sys.executable).parent / "dbt")
    from integrations.database.resource import PostgresResource

    PostgresResource().export_for_dbt()
    completed = subprocess.run(
        [dbt, "test", "--select", "test_type:unit", "--profiles-dir", ".", "--target", "ci"],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "PASS=5" in completed.stdout
