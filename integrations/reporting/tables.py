"""Markdown tables for Dagster metadata (the UI renders ``MetadataValue.md``); plain strings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
#: What an empty cell shows (a null: no value, not zero).
EMPTY = "–"


def cell(value: object) -> str:
    """One cell's text: None as ``–``, Decimals as written, pipes escaped, no line breaks."""
    if value is None:
        return EMPTY
    if isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, float):
        text = f"{value:,.3f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-style markdown table; every row must have as many cells as the header."""
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {list(row)!r} has {len(row)} cells, the header {len(header)}")
        lines.append("| " + " | ".join(cell(value) for value in row) + " |")
    return "\n".join(lines)


def counts_table(
    counts: Mapping[str, int],
    key: str,
    value: str,
    meanings: Mapping[str, str] | None = None,
) -> str:
    """Counts by key, largest first (ties by key), with a ``meaning`` column when given."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if meanings is None:
        return markdown_table((key, value), ordered)
    return markdown_table(
        (key, value, "meaning"), [(k, n, meanings.get(k, EMPTY)) for k, n in ordered]
    )


def amsterdam_time(instant: datetime, with_date: bool = False) -> str:
    """An instant as Europe/Amsterdam wall-clock time, ``14:15`` or ``2025-02-27 14:15``."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant.isoformat()} is naive; give a timezone-aware datetime")
    local = instant.astimezone(AMSTERDAM)
    return f"{local:%Y-%m-%d %H:%M}" if with_date else f"{local:%H:%M}"
