"""Client of the device clouds (OEM APIs; the project's device-cloud simulator locally)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from integrations.http import retrying_session


class DeviceCloudClient(dg.ConfigurableResource):
    """Pages the device cloud's REST API with ``requests``."""

    base_url: str = Field(default="http://127.0.0.1:8702", description="device-cloud base URL")
    timeout_s: float = Field(default=10.0, description="per-request timeout in seconds")
    page_size: int = Field(default=200, description="items per page")

    def onboardings_since(self, cursor: int) -> Iterator[tuple[dict[str, Any], int]]:
        """Yield (event, cursor after it) for every onboarding after ``cursor``."""
        session = retrying_session()
        while True:
            response = session.get(
                f"{self.base_url.rstrip('/')}/api/v1/onboardings",
                params={"cursor": cursor, "limit": self.page_size},
                timeout=self.timeout_s,
            )
            response.raise_for_status()
            page = response.json()
            for item in page["items"]:
                yield item, int(item["sequence"])
            cursor = int(page["next_cursor"])
            if not page.get("has_more"):
                return
