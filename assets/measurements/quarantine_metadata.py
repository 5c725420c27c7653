"""Quarantine counts by reason as a load's metadata: a table to read and numbers to plot."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg


def quarantine_metadata(reasons: Mapping[str, int]) -> dict[str, dg.MetadataValue]:
    """``quarantine_by_reason`` (a markdown table with each code's meaning) and one int per code.

    Every intake reason code gets its ``quarantined_<code>`` number, 0 included, so the UI
    plots each reason over the runs without gaps; a code outside the rules (e.g. a file-level
    ``unreadable_file``) is added when it occurs.
    """
    from domain.measurement_rules import REASONS
    from integrations.reporting.tables import counts_table

    counts = dict.fromkeys(REASONS, 0) | dict(reasons)
    table = (
        counts_table({k: n for k, n in counts.items() if n}, "reason", "records", REASONS)
        if any(counts.values())
        else "nothing quarantined"
    )
    return {
        "quarantine_by_reason": dg.MetadataValue.md(table),
        **{
            f"quarantined_{code}": dg.MetadataValue.int(count)
            for code, count in sorted(counts.items())
        },
    }
