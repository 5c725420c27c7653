"""TenneT settlement-price files into raw.settlement_prices: once per content, versioned."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from integrations.settings import PROJECT_ROOT
from integrations.settlement.prices import (
    BUNDLED_PRICES_DIR,
    PriceFileError,
    complete_price_days,
    load_price_folders,
    price_files,
)

DST_PRICES = PROJECT_ROOT / "tests" / "domain" / "settlement" / "data"
BUNDLED = next(BUNDLED_PRICES_DIR.glob("*.csv"))
ISP_49 = "2025-02-27T12:00,2025-02-27T12:15,49,EUR,MWh,NO,NO,{},67.39,115.87,67.39,2,UP_AND_DOWN"


@pytest.fixture
def url(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        conn.execute("truncate raw.settlement_prices, raw.settlement_price_files cascade")
    return db_url


def _copy(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _in_force(url: str, isp_start: datetime) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select price_dispatch_up_eur_mwh, file_id from raw.settlement_prices"
            " where isp_start = %s order by file_id desc limit 1",
            (isp_start,),
        ).fetchone()


def test_the_bundled_file_loads_three_whole_days_once(url, tmp_path):
    [first] = load_price_folders(url, [BUNDLED_PRICES_DIR])
    assert (first.rows_total, first.rows_new, first.already_loaded) == (288, 288, False)
    # again, and the same bytes under another name: nothing new
    renamed = _copy(tmp_path / "other", "renamed.csv", BUNDLED.read_text(encoding="utf-8"))
    again = load_price_folders(url, [BUNDLED_PRICES_DIR, renamed.parent])
    assert [load.already_loaded for load in again] == [True, True]
    with psycopg.connect(url) as conn:
        days = complete_price_days(conn, 10)
        assert days == [(date(2025, 2, 28), 96), (date(2025, 2, 27), 96), (date(2025, 2, 26), 96)]
        assert conn.execute("select count(*) from raw.settlement_price_files").fetchone() == (1,)


def test_a_revised_price_is_a_new_version_and_the_old_one_stays(url, tmp_path):
    load_price_folders(url, [BUNDLED_PRICES_DIR])
    isp_49 = datetime(2025, 2, 27, 11, tzinfo=UTC)
    original, first_file = _in_force(url, isp_49)
    assert original == Decimal("115.87")
    text = BUNDLED.read_text(encoding="utf-8")
    assert ISP_49.format("115.87") in text
    revised = _copy(
        tmp_path, "revised.csv", text.replace(ISP_49.format("115.87"), ISP_49.format("125.87"))
    )
    [load] = load_price_folders(url, [revised.parent])
    assert (load.rows_total, load.rows_new) == (288, 1)
    price, file_id = _in_force(url, isp_49)
    assert (price, file_id > first_file) == (Decimal("125.87"), True)
    with psycopg.connect(url) as conn:
        versions = conn.execute(
            "select price_dispatch_up_eur_mwh from raw.settlement_prices where isp_start = %s"
            " order by file_id",
            (isp_49,),
        ).fetchall()
    assert versions == [(Decimal("115.87"),), (Decimal("125.87"),)]


def test_dst_days_are_placed_by_isp_number(url, tmp_path):
    folder = tmp_path / "dst"
    for day in ("2025-03-30", "2025-10-26"):
        name = f"tennet_settlement_prices_{day}.csv"
        _copy(folder, name, (DST_PRICES / name).read_text(encoding="utf-8"))
    assert [path.name for path in price_files([folder])] == [
        "tennet_settlement_prices_2025-03-30.csv",
        "tennet_settlement_prices_2025-10-26.csv",
    ]
    load_price_folders(url, [folder])
    with psycopg.connect(url) as conn:
        assert complete_price_days(conn, 5) == [(date(2025, 10, 26), 100), (date(2025, 3, 30), 92)]
        repeated = conn.execute(
            "select isp_number, price_shortage_eur_mwh from raw.settlement_prices"
            " where isp_start in (%s, %s) order by isp_start",
            (datetime(2025, 10, 26, 0, tzinfo=UTC), datetime(2025, 10, 26, 1, tzinfo=UTC)),
        ).fetchall()
    # local 02:00 twice: ISP 9 (CEST, 00:00 UTC) and ISP 13 (CET, 01:00 UTC)
    assert repeated == [(9, Decimal("-41.10")), (13, Decimal("-102.10"))]


def test_a_price_with_more_than_two_decimals_is_refused_and_nothing_is_stored(url, tmp_path):
    text = BUNDLED.read_text(encoding="utf-8")
    bad = _copy(
        tmp_path, "bad.csv", text.replace(ISP_49.format("115.87"), ISP_49.format("115.875"))
    )
    with pytest.raises(PriceFileError, match="more than 2 decimals"):
        load_price_folders(url, [bad.parent])
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from raw.settlement_prices").fetchone() == (0,)
        assert conn.execute("select count(*) from raw.settlement_price_files").fetchone() == (0,)
