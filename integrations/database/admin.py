"""Create the platform's databases and apply its base schema (numbered SQL migrations)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import psycopg
from psycopg import sql

from integrations.database.urls import database_name, with_database

MIGRATIONS_PACKAGE = "integrations.database.migrations"


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` when it does not exist; return whether it did."""
    name = database_name(url)
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        return True


def drop_database(url: str) -> None:
    """Drop the database named in ``url`` (tests use this to start clean)."""
    name = database_name(url)
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def migration_scripts() -> list[tuple[str, str]]:
    """The migration files in name order, as (name, SQL text)."""
    folder = resources.files(MIGRATIONS_PACKAGE)
    scripts = sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    return scripts


def migrate(url: str) -> list[str]:
    """Apply the migrations not yet applied, each committed on its own; return their names."""
    applied_now: list[str] = []
    with psycopg.connect(url) as conn:
        conn.execute("create schema if not exists ops")
        conn.execute(
            "create table if not exists ops.schema_migrations ("
            " name text primary key, applied_at timestamptz not null default now())"
        )
        # One migrator at a time: concurrent test workers or a second `make demo` wait here.
        conn.execute("select pg_advisory_xact_lock(hashtext('vppal.migrate'))")
        done = {row[0] for row in conn.execute("select name from ops.schema_migrations")}
        for name, script in migration_scripts():
            if name in done:
                continue
            conn.execute(script)
            conn.execute("insert into ops.schema_migrations (name) values (%s)", (name,))
            conn.commit()
            conn.execute("select pg_advisory_xact_lock(hashtext('vppal.migrate'))")
            applied_now.append(name)
        conn.commit()
    return applied_now


def prepare_database(say: Callable[[str], None] = print) -> str:
    """Start the embedded server unless an external one is configured; create and migrate.

    Returns the application database URL.
    """
    from integrations.database.embedded import wait_until_accepting
    from integrations.database.urls import (
        EXTERNAL_URL_VARIABLE,
        dagster_storage_url,
        database_url,
        embedded_server,
        external_url,
    )

    if external_url() is None:
        server = embedded_server()
        port = server.start()
        say(f"embedded PostgreSQL running on 127.0.0.1:{port} (data in {server.data_dir})")
    else:
        say(f"using the external server from {EXTERNAL_URL_VARIABLE}")
    url = database_url()
    wait_until_accepting(with_database(url, "postgres"))
    for target in (url, dagster_storage_url()):
        if ensure_database(target):
            say(f"created database {database_name(target)}")
    applied = migrate(url)
    say(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")
    return url
