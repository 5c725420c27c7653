"""A settlement run's totals and the reconciliation table (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D

from integrations.reporting.settlement_report import day_totals, reconciliation_markdown
from integrations.settlement.reconciliation import IspReconciliation, MonthReconciliation


@dataclass(frozen=True)
class Tso:
    settled_kwh: D
    gross_eur: D
    penalty_eur: D
    revenue_eur: D
    aggregator_margin_eur: D | None


@dataclass(frozen=True)
class Payout:
    payout_eur: D


def test_totals_are_exact_sums_and_a_missing_margin_counts_as_nothing():
    totals = day_totals(
        [
            Tso(D("10.000001"), D("1.10"), D("0.00"), D("1.10"), D("0.30")),
            Tso(D("0.2"), D("-0.20"), D("0.05"), D("-0.25"), None),
        ],
        [Payout(D("0.80")), Payout(D("0.00"))],
    )
    assert totals.pool_isps == 2
    assert totals.amounts() == {
        "settled_kwh": D("10.200001"),
        "gross_eur": D("0.90"),
        "penalty_eur": D("0.05"),
        "revenue_eur": D("0.85"),
        "payouts_eur": D("0.80"),
        "aggregator_margin_eur": D("0.30"),
    }
    assert day_totals([], []).revenue_eur == 0


def test_the_reconciliation_table_says_yes_or_no_per_rule():
    isps = IspReconciliation(864, 0, D("0"), D("24.17"), D("20.00"), D("4.17"))
    month = MonthReconciliation(date(2025, 2, 1), D("24.17"), D("20.00"), D("20.00"), D("4.17"))
    lines = reconciliation_markdown(isps, month).splitlines()
    assert lines[2].startswith(
        "| day: 864 pool-ISPs | revenue = payouts + margin, per pool and ISP"
    )
    assert lines[2].endswith("| 24.17 | 20.00 | – | 4.17 | yes |")
    assert lines[3] == (
        "| month 2025-02 | revenue = statements + margin; statements = payouts | 24.17 | 20.00"
        " | 20.00 | 4.17 | yes |"
    )


def test_a_cent_off_shows_where():
    isps = IspReconciliation(864, 1, D("0.01"), D("24.17"), D("20.01"), D("4.17"))
    month = MonthReconciliation(date(2025, 2, 1), D("24.17"), D("20.01"), D("20.00"), D("4.17"))
    assert not isps.reconciles and not month.reconciles
    lines = reconciliation_markdown(isps, month).splitlines()
    assert lines[2].endswith("| no (1 of 864 off by 0.01 EUR) |")
    assert lines[3].endswith("| no |")
