"""TenneT settlement-price files into ``raw.settlement_prices``: once per content, versioned.

Files are TenneT's CSV download (columns in ``domain/settlement/prices.py``), any number of
local days per file. They are read from the bundled ``data/tennet/settlement_prices/`` and from
``var/landing/prices/tennet/``, where a revised or newer publication is dropped. Each file
content is loaded once (``raw.settlement_price_files``, by SHA-256, under any name); a row is
stored only when it differs from the latest stored version of its ISP, so the latest
``file_id`` per ISP is the price in force and earlier versions stay for the record. A price
with more than two decimals is refused (the column holds cents per MWh), never rounded.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg

from domain.settlement.prices import TENNET_SOURCE, IspPrices, parse_tennet_settlement_prices
from integrations.settings import LANDING_DIR, PROJECT_ROOT

BUNDLED_PRICES_DIR = PROJECT_ROOT / "data" / "tennet" / "settlement_prices"
LANDING_PRICES_DIR = LANDING_DIR / "prices" / "tennet"
PRICE_SUFFIX = ".csv"
_LOCK = "select pg_advisory_xact_lock(hashtext('vppal.settlement_prices'))"
#: The stored columns that make a version, in table order after (source, isp_start).
PRICE_COLUMNS = (
    "local_date",
    "isp_number",
    "price_dispatch_up_eur_mwh",
    "price_dispatch_down_eur_mwh",
    "price_shortage_eur_mwh",
    "price_surplus_eur_mwh",
    "regulation_state",
    "incident_reserve_up",
    "incident_reserve_down",
)


class PriceFileError(ValueError):
    """A price file that cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True)
class PriceFileLoad:
    """What loading one file did."""

    file_name: str
    content_sha256: str
    rows_total: int
    rows_new: int
    already_loaded: bool


def default_price_folders() -> list[Path]:
    """The bundled prices, then the landing folder for revised or newer files."""
    return [BUNDLED_PRICES_DIR, LANDING_PRICES_DIR]


def price_files(folders: list[Path]) -> list[Path]:
    """The CSV files in ``folders`` (not hidden), folder by folder, by name."""
    found = []
    for folder in folders:
        if folder.is_dir():
            found += sorted(
                path
                for path in folder.iterdir()
                if path.is_file()
                and not path.name.startswith(".")
                and path.suffix.lower() == PRICE_SUFFIX
            )
    return found


def parse_price_file(name: str, content: bytes) -> list[IspPrices]:
    """Parse one file's bytes; refuse other encodings and prices with more than 2 decimals."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PriceFileError(f"{name}: not UTF-8") from None
    try:
        prices = parse_tennet_settlement_prices(csv.DictReader(io.StringIO(text, newline="")))
    except ValueError as problem:
        raise PriceFileError(f"{name}: {problem}") from None
    for isp in prices:
        for value in (
            isp.price_dispatch_up_eur_mwh,
            isp.price_dispatch_down_eur_mwh,
            isp.price_shortage_eur_mwh,
            isp.price_surplus_eur_mwh,
        ):
            if value is not None and value != value.quantize(Decimal("0.01")):
                raise PriceFileError(
                    f"{name}: ISP {isp.isp_number} of {isp.local_date} has price {value},"
                    " more than 2 decimals"
                )
    return prices


def _version(prices: IspPrices) -> tuple[object, ...]:
    return (
        prices.local_date,
        prices.isp_number,
        prices.price_dispatch_up_eur_mwh,
        prices.price_dispatch_down_eur_mwh,
        prices.price_shortage_eur_mwh,
        prices.price_surplus_eur_mwh,
        prices.regulation_state,
        prices.incident_reserve_up,
        prices.incident_reserve_down,
    )


def load_price_file(conn: psycopg.Connection, path: Path) -> PriceFileLoad:
    """Load one file in the connection's transaction (the caller commits)."""
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    conn.execute(_LOCK)
    if conn.execute(
        "select 1 from raw.settlement_price_files where content_sha256 = %s", (digest,)
    ).fetchone():
        return PriceFileLoad(path.name, digest, 0, 0, already_loaded=True)
    prices = parse_price_file(path.name, content)
    source = TENNET_SOURCE
    stored = {
        row[0]: tuple(row[1:])
        for row in conn.execute(
            f"select distinct on (isp_start) isp_start, {', '.join(PRICE_COLUMNS)}"
            " from raw.settlement_prices where source = %s and isp_start = any(%s)"
            " order by isp_start, file_id desc",
            (source, [p.isp_start for p in prices]),
        )
    }
    new = [p for p in prices if stored.get(p.isp_start) != _version(p)]
    (file_id,) = conn.execute(
        "insert into raw.settlement_price_files (file_name, content_sha256, source, rows_total,"
        " rows_new) values (%s, %s, %s, %s, %s) returning file_id",
        (path.name, digest, source, len(prices), len(new)),
    ).fetchone()
    columns = ", ".join(("source", "isp_start", *PRICE_COLUMNS, "file_id"))
    with conn.cursor().copy(f"copy raw.settlement_prices ({columns}) from stdin") as copy:
        for prices_row in new:
            copy.write_row((source, prices_row.isp_start, *_version(prices_row), file_id))
    return PriceFileLoad(path.name, digest, len(prices), len(new), already_loaded=False)


def load_price_folders(url: str, folders: list[Path]) -> list[PriceFileLoad]:
    """Load every price file of ``folders``, each in its own transaction, in order."""
    loads = []
    for path in price_files(folders):
        with psycopg.connect(url) as conn:
            loads.append(load_price_file(conn, path))
    return loads


def complete_price_days(conn: psycopg.Connection, limit: int) -> list[tuple[object, int]]:
    """The latest ``limit`` local days with prices, and how many ISPs each has (newest first)."""
    return [
        tuple(row)
        for row in conn.execute(
            "select local_date, count(distinct isp_start)::integer from raw.settlement_prices"
            " where source = %s group by local_date order by local_date desc limit %s",
            (TENNET_SOURCE, limit),
        )
    ]
