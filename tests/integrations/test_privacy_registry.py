"""Personal data at registry intake: quarantine keeps none, logs show none, erased stay out.

Against the real test database: refused customer records are stored with their personal
fields (and anything that would quote them) redacted; a registry load through the Dagster
asset prints, logs and records no name, e-mail or address of the bundled sample, nor the
pseudonym key; a customer in the erasure register is refused as ``erased_customer``.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil

import dagster as dg
import psycopg
import pytest

from domain.erasure import ERASED_CUSTOMER
from domain.settlement.contracts import customer_pseudonym
from integrations.registry.loader import load_registry
from integrations.settings import SAMPLE_DATA_DIR

KEY_HEX = "3c" * 32
HEADER = "customer_id,name,email,address\n"
# One refused record per way personal data could reach ops.quarantine, and two good ones.
BAD_CUSTOMERS = (
    HEADER + "C-OK,Olga Okkerse,olga@example.nl,Laan 1\n"
    "C-CTRL,Carla\x07Controle,carla@example.nl,Laan 2\n"  # invalid_text: quotes the name
    "C-ADDR,Ada Adres,ada@example.nl,Laan\x0b7\n"  # invalid_text in the address
    "C-MAIL,Maria Mailfout,maria at example.nl,Laan 3\n"  # invalid_email
    "Sanne Verschoven,sanne@example.nl,Laan 4\n"  # no id: the name lands in customer_id
    "C-EXTRA,Erik Extra,erik@example.nl,Laan 5,0612345678\n"  # one field too many
    "C-DUP,Dirk Dubbel,dirk@example.nl,Laan 6\n"
    "C-DUP,Dirk Anders,dirk.anders@example.nl,Laan 6\n"  # conflicting_duplicate
)
REFUSED_VALUES = [
    "Carla",
    "carla@example.nl",
    "Ada Adres",
    "Laan\x0b7",
    "Maria Mailfout",
    "maria at example.nl",
    "Sanne",
    "sanne@example.nl",
    "Erik Extra",
    "0612345678",
    "Dirk Anders",
    "dirk.anders@example.nl",
]


def _sample_personal_values() -> list[str]:
    values = []
    for path in sorted((SAMPLE_DATA_DIR / "registry").glob("*/customers.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                values += [row["name"], row["email"], row["address"]]
    return [value for value in values if value]


@pytest.fixture
def registry_db(clean_db: str):
    """The emptied test database with an empty erasure register."""
    with psycopg.connect(clean_db) as conn:
        conn.execute("truncate ops.erasures")
    yield clean_db
    with psycopg.connect(clean_db) as conn:
        conn.execute("truncate ops.erasures")


def _quarantine(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select source_line, reason_code, record, reason from ops.quarantine"
            " where entity = 'customers' order by source_line"
        ).fetchall()


def test_refused_customer_records_keep_no_personal_data(registry_db, tmp_path):
    batch = tmp_path / "registry" / "2025-03-01_bad"
    batch.mkdir(parents=True)
    (batch / "customers.csv").write_text(BAD_CUSTOMERS, encoding="utf-8")

    report = load_registry(registry_db, tmp_path / "registry")

    assert report.rows_changed["customers"] == 2  # C-OK and the first C-DUP
    rows = _quarantine(registry_db)
    assert [(line, code) for line, code, *_ in rows] == [
        (3, "invalid_text"),
        (4, "invalid_text"),
        (5, "invalid_email"),
        (6, "invalid_identifier"),
        (7, "malformed_record"),
        (9, "conflicting_duplicate"),
    ]
    stored = "\n".join(
        " ".join([*(str(value) for value in record.values()), reason])
        for *_, record, reason in rows
    )
    for value in REFUSED_VALUES:
        assert value not in stored
    records = {line: record for line, _, record, _ in rows}
    assert records[3] == {
        "customer_id": "C-CTRL",
        "name": "<redacted>",
        "email": "<redacted>",
        "address": "<redacted>",
    }
    assert records[6]["customer_id"] == "<redacted>"  # a name where the id should be
    reasons = {line: reason for line, _, _, reason in rows}
    assert reasons[3] == "customer C-CTRL: name <redacted> contains control characters"
    assert reasons[6].startswith("customer <redacted>: customer_id <redacted> is not an id")
    with psycopg.connect(registry_db) as conn:
        assert conn.execute("select customer_id from pii.customers order by 1").fetchall() == [
            ("C-DUP",),
            ("C-OK",),
        ]


def test_a_customer_in_the_erasure_register_is_refused_at_intake(registry_db, tmp_path):
    key = bytes.fromhex(KEY_HEX)
    with psycopg.connect(registry_db) as conn:
        conn.execute(
            "insert into ops.erasures (customer_pseudonym, reason, personal_rows_deleted,"
            " landed_files_redacted, landed_records_redacted, landed_files_unreadable)"
            " values (%s, 'test', 1, 0, 0, 0)",
            (customer_pseudonym("C-DUP", key),),
        )
    batch = tmp_path / "registry" / "2025-03-01_bad"
    batch.mkdir(parents=True)
    (batch / "customers.csv").write_text(BAD_CUSTOMERS, encoding="utf-8")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VPPAL_PSEUDONYM_KEY", KEY_HEX)
        report = load_registry(registry_db, tmp_path / "registry")

    assert report.rows_changed["customers"] == 1  # C-OK only
    assert report.quarantined[ERASED_CUSTOMER] == 2  # both C-DUP lines
    refused = [row for row in _quarantine(registry_db) if row[1] == ERASED_CUSTOMER]
    assert [line for line, *_ in refused] == [8, 9]
    assert all(record["name"] == "<redacted>" for _, _, record, _ in refused)
    assert "Dirk" not in json.dumps([row[2:] for row in refused])
    with psycopg.connect(registry_db) as conn:
        assert conn.execute(
            "select count(*) from pii.customers where customer_id = 'C-DUP'"
        ).fetchone() == (0,)
        assert conn.execute(
            "select count(*) from raw.registry_customers where customer_id = 'C-DUP'"
        ).fetchone() == (0,)


def test_a_registry_load_logs_and_records_no_personal_data_nor_the_key(
    registry_db, tmp_path, capsys, caplog
):
    from assets.registry.landing import raw_registry
    from integrations.database.resource import PostgresResource

    landing = tmp_path / "registry"
    shutil.copytree(SAMPLE_DATA_DIR / "registry", landing)
    (landing / "2025-03-01_bad").mkdir()
    (landing / "2025-03-01_bad" / "customers.csv").write_text(BAD_CUSTOMERS, encoding="utf-8")
    with psycopg.connect(registry_db) as conn:  # the key is used: the register is not empty
        conn.execute(
            "insert into ops.erasures (customer_pseudonym, reason, personal_rows_deleted,"
            " landed_files_redacted, landed_records_redacted, landed_files_unreadable)"
            " values ('CP-00000000000000000000', 'test', 1, 0, 0, 0)"
        )
    instance = dg.DagsterInstance.ephemeral()
    caplog.set_level(logging.DEBUG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VPPAL_PSEUDONYM_KEY", KEY_HEX)
        result = dg.materialize(
            [raw_registry],
            instance=instance,
            resources={"postgres": PostgresResource()},
            run_config={"ops": {"raw_registry": {"config": {"folder": str(landing)}}}},
        )
    assert result.success
    captured = capsys.readouterr()
    events = "\n".join(repr(entry) for entry in instance.all_logs(result.run_id))
    assert "registry: " in events  # the asset's own log line is in the event log
    with psycopg.connect(registry_db) as conn:
        stored = "\n".join(
            f"{record} {reason}"
            for record, reason in conn.execute("select record::text, reason from ops.quarantine")
        )
        assert conn.execute("select count(*) from pii.customers").fetchone()[0] > 140
    texts = {
        "stdout": captured.out,
        "stderr": captured.err,
        "log records": caplog.text,
        "Dagster event log": events,
        "ops.quarantine": stored,
    }
    secrets = [*_sample_personal_values(), *REFUSED_VALUES, "Olga Okkerse", KEY_HEX]
    assert len(secrets) > 400
    for where, text in texts.items():
        leaked = [value for value in secrets if value in text]
        assert not leaked, f"{where} shows {leaked[:3]}"


def test_the_local_secret_files_are_ignored_by_git():
    import subprocess

    from integrations.settings import PROJECT_ROOT

    if not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for path in ("var/secrets/pseudonym.key", "var/secrets/tso_signing.key", "var/postgres"):
        checked = subprocess.run(
            ["git", "check-ignore", "--quiet", path], cwd=PROJECT_ROOT, check=False
        )
        assert checked.returncode == 0, f"{path} is not ignored by git"
    tracked = subprocess.run(
        ["git", "ls-files", "var", "*.key", "*.pem", ".env"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert tracked == ""
