"""Markdown tables for metadata: cells, counts and Amsterdam times (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from integrations.reporting.tables import amsterdam_time, cell, counts_table, markdown_table


def test_cells_keep_decimals_exact_and_show_null_as_a_dash():
    assert cell(Decimal("1234.50")) == "1234.50"
    assert cell(Decimal("1E+2")) == "100"
    assert cell(None) == "–"
    assert cell(1234567) == "1,234,567"
    assert cell(True) == "True"
    assert cell("a|b\nc") == "a\\|b c"


def test_a_table_has_a_header_a_rule_and_one_line_per_row():
    table = markdown_table(("pool", "MW"), [("POOL-A", 1), ("POOL-B", None)])
    assert table.splitlines() == ["| pool | MW |", "|---|---|", "| POOL-A | 1 |", "| POOL-B | – |"]


def test_a_row_with_the_wrong_number_of_cells_is_refused():
    with pytest.raises(ValueError, match="has 1 cells, the header 2"):
        markdown_table(("a", "b"), [("only one",)])


def test_counts_come_largest_first_with_their_meaning():
    table = counts_table(
        {"unknown_device": 2, "non_finite_power": 7, "missing_value": 2},
        "reason",
        "records",
        {"non_finite_power": "power_w is NaN or infinite"},
    )
    assert table.splitlines()[2:] == [
        "| non_finite_power | 7 | power_w is NaN or infinite |",
        "| missing_value | 2 | – |",
        "| unknown_device | 2 | – |",
    ]


def test_times_read_in_amsterdam_winter_and_summer():
    assert amsterdam_time(datetime(2025, 2, 27, 9, 45, tzinfo=UTC)) == "10:45"
    assert amsterdam_time(datetime(2025, 7, 1, 9, 45, tzinfo=UTC), True) == "2025-07-01 11:45"
    with pytest.raises(ValueError, match="naive"):
        amsterdam_time(datetime(2025, 2, 27, 9, 45))
