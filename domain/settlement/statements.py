"""Monthly statements and corrections: an append-only ledger of versions carrying differences.

The finance rows are never overwritten. A settlement run recomputes a month from the data and
prices it has now and compares the result with the **ledger**, every row written so far:

* nothing written yet: version 1 holds every recomputed row;
* rows differ (late measurements, a revised price): version ``n + 1`` holds one row per key that
  changed, carrying ``recomputed - Σ earlier versions`` (a key that disappeared gets the
  negated amounts, a new key its full amounts);
* nothing differs: no new version.

So ``Σ over all versions`` of a row is always the current truth, and each version is the
correction a statement shows. Versions are numbered per prosumer statement (customer pseudonym
and month) and per pool and month for the TSO rows. The month is the Europe/Amsterdam calendar
month of the ISP's start. The reconciliation invariant (payouts + margin = revenue, per pool and
ISP) holds for the sums over versions, because every amount is differenced the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from domain.isp import MARKET_TZ
from domain.settlement.allocation import ProsumerSettlementRow
from domain.settlement.money import EUR, ZERO_EUR
from domain.settlement.tso import TsoSettlementRow

Row = TypeVar("Row", ProsumerSettlementRow, TsoSettlementRow)

#: The columns that add up over versions; the others describe the row (price, market).
PROSUMER_AMOUNTS = ("contribution_kwh", "payout_eur")
TSO_AMOUNTS = (
    "requested_kwh",
    "delivered_kwh",
    "settled_kwh",
    "gross_eur",
    "penalty_eur",
    "revenue_eur",
    "aggregator_margin_eur",
)
_TSO_DESCRIPTIVE = ("market", "price_eur_mwh", "price_kind", "price_source", "currency")


def settlement_month(isp_start: datetime) -> date:
    """Return the first day of the Europe/Amsterdam month of the ISP starting at ``isp_start``."""
    return isp_start.astimezone(MARKET_TZ).date().replace(day=1)


@dataclass(frozen=True)
class ProsumerStatement:
    """One version of a prosumer's monthly statement (``finance.prosumer_statements``).

    ``total_eur`` is what this version carries: the whole month in version 1, the correction
    in later versions. ``cumulative_total_eur`` is the month's total after this version.
    """

    customer_pseudonym: str
    month: date
    statement_version: int
    total_eur: Decimal
    cumulative_total_eur: Decimal
    created_at: datetime
    currency: str = EUR


@dataclass(frozen=True)
class ProsumerRevision:
    """A new statement version and the rows it adds to ``finance.settlement_prosumer_isp``."""

    statement: ProsumerStatement
    rows: tuple[ProsumerSettlementRow, ...]


def _next_version(ledger: Sequence[Row]) -> int:
    versions = [row.statement_version for row in ledger]
    if any(version is None or version < 1 for version in versions):
        raise ValueError("every ledger row needs a statement_version >= 1")
    return max((v for v in versions if v is not None), default=0) + 1


def _difference(
    ledger: Sequence[Row],
    recomputed: Sequence[Row],
    key: Callable[[Row], tuple[Any, ...]],
    amounts: Sequence[str],
    descriptive: Sequence[str],
    version: int,
) -> list[Row]:
    """Return the rows of version ``version``: recomputed minus the ledger's sums, per key."""
    totals: dict[tuple[Any, ...], dict[str, Decimal]] = {}
    latest: dict[tuple[Any, ...], Row] = {}
    for row in sorted(ledger, key=lambda row: row.statement_version or 0):
        sums = totals.setdefault(key(row), dict.fromkeys(amounts, Decimal(0)))
        for name in amounts:
            sums[name] += getattr(row, name)
        latest[key(row)] = row
    new: dict[tuple[Any, ...], Row] = {}
    for row in recomputed:
        if key(row) in new:
            raise ValueError(f"recomputed rows repeat the key {key(row)}")
        new[key(row)] = row
    changed: list[Row] = []
    for row_key in sorted(set(totals) | set(new)):
        before = totals.get(row_key, dict.fromkeys(amounts, Decimal(0)))
        row = new.get(row_key)
        base = row if row is not None else latest[row_key]
        after = {name: getattr(row, name) if row is not None else Decimal(0) for name in amounts}
        delta = {name: after[name] - before[name] for name in amounts}
        same_description = row_key in latest and all(
            getattr(latest[row_key], name) == getattr(base, name) for name in descriptive
        )
        if version > 1 and same_description and not any(delta.values()):
            continue
        changed.append(replace(base, statement_version=version, **delta))
    return changed


def _check_scope(rows: Iterable[Row], attribute: str, expected: str, month: date) -> None:
    for row in rows:
        if getattr(row, attribute) != expected or settlement_month(row.isp_start) != month:
            raise ValueError(
                f"row of {getattr(row, attribute)} at {row.isp_start.isoformat()} is not in"
                f" the statement of {expected} for {month:%Y-%m}"
            )


def revise_prosumer_month(
    customer_pseudonym: str,
    month: date,
    ledger: Sequence[ProsumerSettlementRow],
    recomputed: Sequence[ProsumerSettlementRow],
    created_at: datetime,
) -> ProsumerRevision | None:
    """Return the next statement version of a prosumer's month, or None when nothing changed.

    ``ledger``: every row written so far for this customer and month (all versions, in version
    order); ``recomputed``: the month recomputed in full (their ``statement_version`` is ignored).
    """
    _check_scope(ledger, "customer_pseudonym", customer_pseudonym, month)
    _check_scope(recomputed, "customer_pseudonym", customer_pseudonym, month)
    version = _next_version(ledger)
    if version == 1 and not recomputed:
        return None
    rows = _difference(
        ledger,
        recomputed,
        lambda row: (row.device_id, row.pool_id, row.isp_start),
        PROSUMER_AMOUNTS,
        ("currency",),
        version,
    )
    if not rows:
        return None
    total = sum((row.payout_eur for row in rows), ZERO_EUR)
    before = sum((row.payout_eur for row in ledger), ZERO_EUR)
    statement = ProsumerStatement(
        customer_pseudonym=customer_pseudonym,
        month=month,
        statement_version=version,
        total_eur=total,
        cumulative_total_eur=before + total,
        created_at=created_at,
    )
    return ProsumerRevision(statement, tuple(rows))


def revise_tso_month(
    pool_id: str,
    month: date,
    ledger: Sequence[TsoSettlementRow],
    recomputed: Sequence[TsoSettlementRow],
) -> tuple[TsoSettlementRow, ...]:
    """Return the rows of the next version of a pool's month (empty when nothing changed).

    Recomputed rows must carry their ``aggregator_margin_eur`` (allocate them first).
    """
    _check_scope(ledger, "pool_id", pool_id, month)
    _check_scope(recomputed, "pool_id", pool_id, month)
    if any(row.aggregator_margin_eur is None for row in (*ledger, *recomputed)):
        raise ValueError("TSO rows need their aggregator_margin_eur before they are versioned")
    version = _next_version(ledger)
    return tuple(
        _difference(
            ledger,
            recomputed,
            lambda row: (row.isp_start,),
            TSO_AMOUNTS,
            _TSO_DESCRIPTIVE,
            version,
        )
    )
