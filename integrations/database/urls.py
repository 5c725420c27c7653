"""Which PostgreSQL the platform talks to: ``VPPAL_DATABASE_URL`` or the embedded server.

One code path for both: everything asks :func:`database_url`, and the embedded server is only
consulted when no external URL is configured.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from integrations.database.embedded import EmbeddedPostgres
from integrations.settings import VAR_DIR, Environment, current_environment

APP_DATABASE = "vppal"
EXTERNAL_URL_VARIABLE = "VPPAL_DATABASE_URL"
STORAGE_URL_VARIABLE = "VPPAL_DAGSTER_STORAGE_URL"


def embedded_server() -> EmbeddedPostgres:
    """The project's embedded cluster under ``var/postgres``."""
    return EmbeddedPostgres(VAR_DIR / "postgres")


def external_url() -> str | None:
    """The external server's URL when one is configured."""
    value = os.environ.get(EXTERNAL_URL_VARIABLE, "").strip()
    return value or None


def database_url() -> str:
    """The application database: the external URL, or ``vppal`` on the embedded server.

    In production (``VPPAL_ENV=prod``) there is no embedded fallback: the URL must be given.
    """
    url = external_url()
    if url:
        return url
    if current_environment() is Environment.PROD:
        raise RuntimeError(f"VPPAL_ENV=prod needs {EXTERNAL_URL_VARIABLE}; no embedded database")
    return embedded_server().url(APP_DATABASE)


def with_database(url: str, database: str) -> str:
    """Return ``url`` pointing at another database of the same server."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def database_name(url: str) -> str:
    """The database part of a libpq URL."""
    return urlsplit(url).path.lstrip("/") or APP_DATABASE


def dagster_storage_url() -> str:
    """Dagster's run, event-log and schedule storage: a separate database on the same server."""
    explicit = os.environ.get(STORAGE_URL_VARIABLE, "").strip()
    if explicit:
        return explicit
    url = database_url()
    return with_database(url, f"{database_name(url)}_dagster")


def sqlalchemy_url(url: str) -> str:
    """The same URL with the psycopg 3 driver named, as SQLAlchemy wants it."""
    scheme, rest = url.split("://", 1)
    if "+" in scheme:
        return url
    return f"postgresql+psycopg://{rest}"


#: Session settings for the set-based checks over millions of readings: sorts and hashes in
#: memory instead of spilling to disk (PostgreSQL's default work_mem is 4 MB), and no nested
#: loops, which the planner picks for rows copied a moment ago and which then never end.
ANALYTIC_SESSION_OPTIONS = "-c work_mem=256MB -c enable_nestloop=off"


def with_session_options(url: str, options: str = ANALYTIC_SESSION_OPTIONS) -> str:
    """``url`` with libpq ``options`` (session settings) added to its query string."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["options"] = f"{query['options']} {options}" if "options" in query else options
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def libpq_parts(url: str) -> dict[str, str]:
    """Host, port, user, password and database of ``url`` (for dbt's profile)."""
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": parts.username or "postgres",
        "password": parts.password or "",
        "dbname": database_name(url),
    }
