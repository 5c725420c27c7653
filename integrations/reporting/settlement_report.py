"""A settlement run's totals and reconciliation, summed exactly and written for people."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Protocol

from integrations.reporting.tables import markdown_table
from integrations.settlement.reconciliation import IspReconciliation, MonthReconciliation


class TsoRow(Protocol):
    """What the totals read of a TSO settlement row (``TsoSettlementRow``)."""

    settled_kwh: Decimal
    gross_eur: Decimal
    penalty_eur: Decimal
    revenue_eur: Decimal
    aggregator_margin_eur: Decimal | None


class PayoutRow(Protocol):
    """What the totals read of a prosumer row (``ProsumerSettlementRow``)."""

    payout_eur: Decimal


@dataclass(frozen=True)
class DayTotals:
    """A day's settlement as recomputed (the current truth, not the version differences).

    ``settled_kwh`` is the energy paid: activations' delivered energy up to the request, and
    imbalance pools' deviation from their baseline.
    """

    pool_isps: int
    settled_kwh: Decimal
    gross_eur: Decimal
    penalty_eur: Decimal
    revenue_eur: Decimal
    payouts_eur: Decimal
    aggregator_margin_eur: Decimal

    def amounts(self) -> dict[str, Decimal]:
        """Every total by field name (the pool-ISP count left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pool_isps"}


def day_totals(tso_rows: Iterable[TsoRow], payout_rows: Iterable[PayoutRow]) -> DayTotals:
    """Exact sums over the day's TSO rows and payout rows."""
    tso = list(tso_rows)

    def total(name: str) -> Decimal:
        return sum((getattr(row, name) or Decimal(0) for row in tso), Decimal(0))

    return DayTotals(
        pool_isps=len(tso),
        settled_kwh=total("settled_kwh"),
        gross_eur=total("gross_eur"),
        penalty_eur=total("penalty_eur"),
        revenue_eur=total("revenue_eur"),
        payouts_eur=sum((row.payout_eur for row in payout_rows), Decimal(0)),
        aggregator_margin_eur=total("aggregator_margin_eur"),
    )


def yes_no(flag: bool) -> str:
    """``yes`` or ``no``."""
    return "yes" if flag else "no"


def reconciliation_markdown(isps: IspReconciliation, month: MonthReconciliation) -> str:
    """The two reconciliation rules, each with its sums and the verdict to the cent."""
    isp_verdict = yes_no(isps.reconciles)
    if not isps.reconciles:
        isp_verdict += f" ({isps.pool_isps_off} of {isps.pool_isps} off by {isps.off_by_eur} EUR)"
    table = markdown_table(
        ("scope", "rule", "revenue", "payouts", "statements", "margin", "reconciles to the cent"),
        [
            (
                f"day: {isps.pool_isps} pool-ISPs",
                "revenue = payouts + margin, per pool and ISP",
                isps.revenue_eur,
                isps.payouts_eur,
                None,
                isps.aggregator_margin_eur,
                isp_verdict,
            ),
            (
                f"month {month.month:%Y-%m}",
                "revenue = statements + margin; statements = payouts",
                month.revenue_eur,
                month.payouts_eur,
                month.statements_eur,
                month.aggregator_margin_eur,
                yes_no(month.reconciles),
            ),
        ],
    )
    return table + "\n\nEUR over all statement versions (the ledger after this run)."
