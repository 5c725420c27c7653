"""Fixtures for the settlement tests: real TenneT prices copied into ``data/``."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from domain.settlement.prices import IspPrices, parse_tennet_settlement_prices

DATA = Path(__file__).parent / "data"


def load_prices(day: date) -> list[IspPrices]:
    with (DATA / f"tennet_settlement_prices_{day.isoformat()}.csv").open(newline="") as handle:
        return parse_tennet_settlement_prices(csv.DictReader(handle))


@pytest.fixture(scope="session")
def tennet_prices() -> Callable[[date], list[IspPrices]]:
    return load_prices
