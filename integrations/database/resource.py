"""The Dagster resource through which assets reach PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from integrations.database.urls import database_url, libpq_parts

if TYPE_CHECKING:  # psycopg loads in runs only: the code location stays cheap to import
    import psycopg


class PostgresResource(dg.ConfigurableResource):
    """The platform database; with no URL configured, ``VPPAL_DATABASE_URL`` or the embedded one."""

    url_override: str | None = Field(
        default=None, description="libpq URL; empty = VPPAL_DATABASE_URL or the embedded server"
    )

    @property
    def url(self) -> str:
        """The libpq URL in use."""
        return self.url_override or database_url()

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A connection in a transaction that commits on success and rolls back on error."""
        import psycopg

        with psycopg.connect(self.url) as conn:
            yield conn

    def export_for_dbt(self) -> None:
        """Put this database's connection details where dbt's profile reads them."""
        parts = libpq_parts(self.url)
        os.environ.update(
            {
                "VPPAL_DBT_HOST": parts["host"],
                "VPPAL_DBT_PORT": parts["port"],
                "VPPAL_DBT_USER": parts["user"],
                "VPPAL_DBT_PASSWORD": parts["password"],
                "VPPAL_DBT_DBNAME": parts["dbname"],
            }
        )
