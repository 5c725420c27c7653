"""Client of the TSO's interfaces (the project's TSO simulator locally)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg
from pydantic import Field

from integrations.http import retrying_session


@dataclass(frozen=True)
class TsoAnswer:
    """The TSO's HTTP status and JSON body."""

    http_status: int
    body: dict[str, Any]


class TsoClient(dg.ConfigurableResource):
    """Talks to the TSO over HTTP; a POST is retried only when it never reached the TSO."""

    base_url: str = Field(default="http://127.0.0.1:8701", description="TSO API base URL")
    timeout_s: float = Field(default=10.0, description="per-request timeout in seconds")

    def register_devices(self, registrations: list[dict[str, Any]]) -> TsoAnswer:
        """Announce devices behind their allocation point; return the TSO's answer."""
        response = retrying_session().post(
            f"{self.base_url.rstrip('/')}/api/v1/registrations",
            json={"registrations": registrations},
            timeout=self.timeout_s,
        )
        response.raise_for_status()
        return TsoAnswer(response.status_code, response.json())
