"""Registry intake against the real test database: counts, quarantine reasons, idempotency."""

import shutil

import psycopg
import pytest

from integrations.registry.loader import load_registry

TABLES = [
    "raw.registry_customers",
    "raw.registry_locations",
    "raw.registry_sites",
    "raw.registry_devices",
    "raw.registry_pools",
    "raw.registry_memberships",
    "raw.registry_contracts",
    "pii.customers",
    "ops.quarantine",
    "raw.registry_files",
]


def _snapshot(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"select * from {table} order by 1, 2").fetchall()
            for table in TABLES
        }


def test_the_sample_loads_and_every_bad_record_is_quarantined_with_its_place(
    clean_db, sample_landing
):
    report = load_registry(clean_db, sample_landing)
    # initial fleet, then 1 update and 3 new, then the 9 neighbourhood batteries
    assert report.rows_changed["devices"] == 520 + 4 + 9
    assert report.quarantined == {
        "invalid_ean": 2,
        "unknown_site": 1,
        "non_positive_rated_power": 2,
        "unknown_device_type": 1,
        "unknown_market": 1,
        "overlapping_membership": 1,
        "timestamp_without_offset": 1,
    }
    with psycopg.connect(clean_db) as conn:
        rows = conn.execute(
            "select source, source_line, entity, reason_code, reason, record from ops.quarantine"
            " order by source, source_line"
        ).fetchall()
    by_code = {row[3]: row for row in rows}
    source, line, entity, _, reason, record = by_code["unknown_site"]
    assert source == "registry/2025-02-15_changes/devices.csv"
    assert entity == "devices" and line > 1
    assert record["site_id"] == "SITE-999999"
    assert reason.startswith(f"device {record['device_id']}: site SITE-999999 is not registered")


def test_reloading_the_same_files_changes_nothing(clean_db, sample_landing):
    load_registry(clean_db, sample_landing)
    before = _snapshot(clean_db)
    again = load_registry(clean_db, sample_landing)
    assert not again.files_loaded and len(again.files_skipped) == 7 + 5 + 6
    assert _snapshot(clean_db) == before


def test_the_same_content_in_a_new_batch_adds_no_versions(clean_db, sample_landing):
    load_registry(clean_db, sample_landing)
    resent = sample_landing / "2025-03-01_resent"
    resent.mkdir()
    for name in ("customers", "locations", "sites", "pools", "contracts"):  # still current
        shutil.copy(sample_landing / "2025-01-01_initial" / f"{name}.csv", resent)
    before = _snapshot(clean_db)
    report = load_registry(clean_db, sample_landing)
    assert len(report.files_loaded) == 5
    assert sum(report.rows_changed.values()) == 0
    assert report.rows_unchanged == 140 + 161 + 217 + 9 + 140
    after = _snapshot(clean_db)
    assert {t: after[t] for t in TABLES[:-1]} == {t: before[t] for t in TABLES[:-1]}


def test_resending_an_older_batch_is_a_real_change(clean_db, sample_landing):
    load_registry(clean_db, sample_landing)
    shutil.copytree(sample_landing / "2025-01-01_initial", sample_landing / "2025-03-01_resent")
    report = load_registry(clean_db, sample_landing)
    # DEV-000267's strike price goes back to its initial value; reopening its closed aFRR-2
    # membership would overlap the aFRR-1 one it moved to, so that line is quarantined.
    assert report.rows_changed["devices"] == 1
    assert report.quarantined == {"overlapping_membership": 1}


def test_a_file_with_a_bad_header_is_quarantined_and_the_other_files_load(clean_db, sample_landing):
    (sample_landing / "2025-01-01_initial" / "pools.csv").write_text("pool_id,mkt\nP,afrr\n")
    report = load_registry(clean_db, sample_landing)
    assert report.quarantined["bad_header"] == 1
    assert report.rows_changed["devices"] > 500
    # without pools, every membership refers to an unknown pool
    assert report.quarantined["unknown_pool"] > 400


@pytest.mark.parametrize("entity", ["customers"])
def test_personal_data_lands_only_in_the_pii_schema(clean_db, sample_landing, entity):
    load_registry(clean_db, sample_landing)
    with psycopg.connect(clean_db) as conn:
        columns = {
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'raw' and table_name = 'registry_customers'"
            )
        }
        pii_rows = conn.execute(
            "select count(*) from pii.customers where email like '%@%'"
        ).fetchone()[0]
    assert columns.isdisjoint({"name", "email", "address"})
    assert pii_rows == 140 + 9  # the households and the 9 energy cooperatives


def test_a_corrected_file_resent_under_the_same_name_records_its_own_refusals(
    clean_db, sample_landing
):
    pools = sample_landing / "2025-02-15_changes" / "pools.csv"
    load_registry(clean_db, sample_landing)
    # same name, new content, a new mistake on the same line for the same reason
    pools.write_text("pool_id,market,name\nPOOL-FCR-2,fcrr,second try\n")
    report = load_registry(clean_db, sample_landing)
    assert report.quarantined == {"unknown_market": 1}
    with psycopg.connect(clean_db) as conn:
        rows = conn.execute(
            "select record ->> 'pool_id' from ops.quarantine where reason_code = 'unknown_market'"
            " order by quarantine_id"
        ).fetchall()
    assert rows == [("POOL-FCR-1",), ("POOL-FCR-2",)]
