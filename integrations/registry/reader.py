"""Read one landed registry file (CSV or JSON) into numbered rows, or say why it cannot be read."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from domain.registry import ENTITY_COLUMNS, OPTIONAL_COLUMNS

SUFFIXES = (".csv", ".json")

Row = dict[str, str | None]


@dataclass
class LandedFile:
    """A registry file as read: its rows with line numbers, and any file-level problems."""

    path: Path
    batch: str
    entity: str | None
    content_sha256: str
    rows: list[tuple[int, Row]] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (line, code, reason)

    @property
    def name(self) -> str:
        """The file name within its batch folder."""
        return self.path.name

    @property
    def source(self) -> str:
        """How quarantine rows name this file: ``registry/<batch>/<file>``."""
        return f"registry/{self.batch}/{self.path.name}"


def read_landed_file(path: Path, batch: str) -> LandedFile:
    """Read ``path``; a file that cannot be read at all has no rows and one problem."""
    content = path.read_bytes()
    entity = path.stem if path.stem in ENTITY_COLUMNS else None
    landed = LandedFile(path, batch, entity, hashlib.sha256(content).hexdigest())
    if entity is None or path.suffix.lower() not in SUFFIXES:
        known = ", ".join(f"{name}.csv|.json" for name in ENTITY_COLUMNS)
        landed.problems.append((0, "unknown_file", f"{path.name} is not a registry file ({known})"))
        return landed
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        landed.problems.append(
            (0, "not_utf8", f"{path.name} is not UTF-8 (byte {error.start}: {error.reason})")
        )
        return landed
    if path.suffix.lower() == ".json":
        _read_json(text, landed)
    else:
        _read_csv(text, landed)
    return landed


def _check_columns(columns: list[str], landed: LandedFile) -> bool:
    assert landed.entity is not None
    expected = ENTITY_COLUMNS[landed.entity]
    required = set(expected) - OPTIONAL_COLUMNS.get(landed.entity, set())
    missing = sorted(required - set(columns))
    unexpected = sorted(set(columns) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing columns {', '.join(missing)}")
        if unexpected:
            parts.append(f"unexpected columns {', '.join(unexpected)}")
        landed.problems.append(
            (1, "bad_header", f"{landed.name}: {'; '.join(parts)}; expected {', '.join(expected)}")
        )
        return False
    return True


def _read_csv(text: str, landed: LandedFile) -> None:
    """Read the rows; a record the CSV parser refuses costs only its own first line.

    After a syntax error (a quote left open, junk after a closing quote) the line the record
    started on is refused and reading starts again on the next line, so a quote left open
    cannot swallow the rows after it.
    """
    lines = list(io.StringIO(text, newline=""))  # physical lines, line breaks kept
    reader = csv.DictReader(iter(lines), strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as error:
        landed.problems.append((1, "malformed_csv", f"{landed.name} line 1: {error}"))
        return
    if not header:
        landed.problems.append((1, "empty_file", f"{landed.name} has no header row"))
        return
    if not _check_columns([column.strip() for column in header], landed):
        return
    columns = [column.strip() for column in header]
    reader.fieldnames = columns
    before = 0  # physical lines before the current reader's first line
    while True:
        started = before + reader.line_num + 1  # the line the next record starts on
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            landed.problems.append(
                (started, "malformed_csv", f"{landed.name} line {started}: {error}")
            )
            before = started
            reader = csv.DictReader(iter(lines[before:]), fieldnames=columns, strict=True)
            continue
        if not any((value or "").strip() for key, value in row.items() if key is not None):
            continue  # blank line
        landed.rows.append((before + reader.line_num, row))


def _read_json(text: str, landed: LandedFile) -> None:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        landed.problems.append(
            (error.lineno, "malformed_json", f"{landed.name} line {error.lineno}: {error.msg}")
        )
        return
    if not isinstance(document, list):
        landed.problems.append((1, "malformed_json", f"{landed.name}: expected a list of records"))
        return
    # Each record is judged on its own (a JSON file has no header): one record with a key too
    # many is refused alone, and a missing value is the rules' missing_value.
    assert landed.entity is not None
    expected = ENTITY_COLUMNS[landed.entity]
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            landed.problems.append(
                (number, "malformed_record", f"{landed.name} record {number} is not an object")
            )
            continue
        unexpected = sorted(str(key) for key in item if str(key) not in expected)
        if unexpected:
            landed.problems.append(
                (
                    number,
                    "malformed_record",
                    f"{landed.name} record {number} has unexpected keys "
                    f"{', '.join(map(repr, unexpected))}; expected {', '.join(expected)}",
                )
            )
            continue
        landed.rows.append((number, {str(k): _as_text(v) for k, v in item.items()}))


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
