"""Quarantine counts by reason on the measurement loads: a table to read, numbers to plot."""

from __future__ import annotations

from assets.measurements.quarantine_metadata import quarantine_metadata
from domain.measurement_rules import REASONS


def test_every_reason_gets_a_number_and_the_table_lists_what_happened():
    metadata = quarantine_metadata({"unknown_device": 16200, "non_finite_power": 1})
    numbers = {k: v.value for k, v in metadata.items() if k.startswith("quarantined_")}
    assert numbers == {f"quarantined_{code}": 0 for code in REASONS} | {
        "quarantined_unknown_device": 16200,
        "quarantined_non_finite_power": 1,
    }
    assert metadata["quarantine_by_reason"].value.splitlines() == [
        "| reason | records | meaning |",
        "|---|---|---|",
        "| unknown_device | 16,200 | device_id is not a registered device |",
        "| non_finite_power | 1 | power_w is NaN or infinite |",
    ]


def test_a_file_level_reason_is_counted_too_and_a_clean_load_says_so():
    metadata = quarantine_metadata({"unreadable_file": 1})
    assert metadata["quarantined_unreadable_file"].value == 1
    assert "| unreadable_file | 1 | – |" in metadata["quarantine_by_reason"].value
    clean = quarantine_metadata({})
    assert clean["quarantine_by_reason"].value == "nothing quarantined"
    assert all(v.value == 0 for k, v in clean.items() if k.startswith("quarantined_"))
