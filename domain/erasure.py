"""Erasure of a prosumer: blank their personal data in landed customer files, refuse it later.

Pure logic over text and rows. A landed ``customers.csv`` or ``customers.json`` keeps every
record and line: only the erased customer's fields other than the id (``name``, ``email``,
``address``, and anything unexpected) are emptied, so line numbers (the lineage of the stored
versions) stay valid and the other customers' values stay as they were. A file that cannot be
read reliably (not UTF-8, malformed, no ``customer_id`` column) is not touched and is reported
for a person to look at.

After an erasure, a customer record with the erased id is refused at intake with reason
``erased_customer`` (its personal fields redacted), so re-landing an old file does not bring
the personal data back.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from domain.registry import PERSONAL_FIELDS, Rejection, redact

ERASED_CUSTOMER = "erased_customer"
_BOM = "\ufeff"


class UnreadableFileError(ValueError):
    """The file cannot be read reliably enough to find the customer's records in it."""


@dataclass(frozen=True)
class RedactedText:
    """A file's new text and how many of the customer's records had personal data blanked."""

    text: str
    records: int


def _decode(content: bytes) -> tuple[str, str]:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableFileError("not UTF-8") from None
    if text.startswith(_BOM):
        return _BOM, text[len(_BOM) :]
    return "", text


def redact_customers_csv(content: bytes, customer_id: str) -> RedactedText:
    """Blank ``customer_id``'s personal fields in a landed customers CSV (UTF-8, BOM kept)."""
    bom, text = _decode(content)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as error:
        raise UnreadableFileError(f"malformed CSV: {error}") from None
    if not rows:
        return RedactedText(bom + text, 0)
    header = [column.strip() for column in rows[0]]
    if "customer_id" not in header:
        raise UnreadableFileError("no customer_id column")
    id_at = header.index("customer_id")
    records = 0
    for row in rows[1:]:
        if len(row) <= id_at or row[id_at].strip() != customer_id:
            continue
        # Every field but the id: in a customers file all are personal, and a row with more
        # fields than the header (or a file with unexpected columns) may hold more of it.
        blanked = [i for i in range(len(row)) if i != id_at]
        if any(row[i].strip() for i in blanked):
            records += 1
            for i in blanked:
                row[i] = ""
    if records == 0:
        return RedactedText(bom + text, 0)
    ending = "\r\n" if "\r\n" in text else "\n"
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=ending).writerows(rows)
    return RedactedText(bom + out.getvalue(), records)


def redact_customers_json(content: bytes, customer_id: str) -> RedactedText:
    """Blank (null) ``customer_id``'s personal fields in a landed customers JSON list."""
    bom, text = _decode(content)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFileError(f"malformed JSON: {error.msg}") from None
    if not isinstance(document, list):
        raise UnreadableFileError("not a list of records")
    records = 0
    for item in document:
        if not isinstance(item, dict) or str(item.get("customer_id", "")).strip() != customer_id:
            continue
        personal = [key for key in item if key != "customer_id"]
        if any(item[key] not in (None, "") for key in personal):
            records += 1
            for key in personal:
                item[key] = None
    if records == 0:
        return RedactedText(bom + text, 0)
    return RedactedText(bom + json.dumps(document, ensure_ascii=False, indent=2) + "\n", records)


def personal_values(content: bytes, customer_id: str, suffix: str) -> set[str]:
    """The customer's personal values in a landed customers file (to keep them out of reasons)."""
    try:
        _, text = _decode(content)
        if suffix == ".json":
            items = json.loads(text)
            rows = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
        else:
            rows = list(csv.DictReader(io.StringIO(text, newline=""), strict=True))
    except (UnreadableFileError, csv.Error, json.JSONDecodeError):
        return set()
    return {
        str(row.get(column) or "").strip()
        for row in rows
        if str(row.get("customer_id") or "").strip() == customer_id
        for column in PERSONAL_FIELDS
    } - {""}


def refuse_erased(
    rows: Iterable[tuple[int, Mapping[str, str | None]]], is_erased: Callable[[str], bool]
) -> tuple[list[tuple[int, Mapping[str, str | None]]], list[Rejection]]:
    """Split a customers file's (line, row) pairs into rows to apply and erased customers refused.

    A refused record is stored redacted (name, e-mail and address hidden), with the id.
    """
    kept: list[tuple[int, Mapping[str, str | None]]] = []
    refused: list[Rejection] = []
    for line, row in rows:
        customer_id = (row.get("customer_id") or "").strip()
        if customer_id and is_erased(customer_id):
            reason = (
                f"customer {customer_id}: the customer's personal data was erased; "
                "the record is not taken again"
            )
            refused.append(
                Rejection("customers", line, redact("customers", row), ERASED_CUSTOMER, reason)
            )
        else:
            kept.append((line, row))
    return kept, refused
