"""Erase a prosumer: delete their personal data, blank it in landed files, record the erasure.

``erase_customer`` runs under the registry loader's advisory lock, so no load reads a file or
the customers while it works, and then:

1. reads the customer's row in ``pii.customers`` (only to keep its values out of the reason);
2. blanks the customer's fields other than the id in every landed ``customers.csv`` and
   ``customers.json`` under the registry landing folder, at any depth (``domain.erasure``);
   each file is replaced atomically, keeping its lines. A customers file it cannot read
   reliably is left as it is and listed in the report for a person to look at;
3. deletes the ``pii.customers`` row and appends a row to ``ops.erasures``: the customer's
   pseudonym (the one the finance tables carry), when, why, which database login, and the
   counts. Both in one transaction, committed after the files are rewritten, so a failure
   leaves a state that running the erasure again completes.

Nothing else changes: ids, EANs, measurements and the settlement ledger keep the history
under the pseudonym, so every settlement total stays as it was and a re-run of a settled
day reads the same inputs. A landed file that brings the customer back is refused at intake
as ``erased_customer`` (``integrations.registry.loader``).

The connection needs what ``vppal_pii`` has (migration 0022): pii, and the erasure register.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg

from domain.erasure import (
    RedactedText,
    UnreadableFileError,
    personal_values,
    redact_customers_csv,
    redact_customers_json,
)
from domain.settlement.contracts import customer_pseudonym
from integrations.registry.store import LOCK_KEY

CUSTOMER_FILE_STEM = "customers"
CUSTOMER_FILE_SUFFIXES = (".csv", ".json")
#: Values shorter than this are not looked for in the reason (too many false matches).
MIN_CHECKED_VALUE_LENGTH = 3


class UnknownCustomerError(LookupError):
    """The customer is neither registered, nor erased before, nor in a landed customers file."""


class ErasureReasonError(ValueError):
    """The reason is empty or contains the customer's personal data."""


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure did; holds no personal data (the pseudonym, counts and file paths)."""

    erasure_id: int
    customer_pseudonym: str
    already_erased: bool
    personal_rows_deleted: int
    files_redacted: tuple[Path, ...]
    records_redacted: int
    files_unreadable: tuple[tuple[Path, str], ...]


def landed_customer_files(folder: Path) -> list[Path]:
    """Every ``customers.csv`` / ``customers.json`` under ``folder``, at any depth, in order."""
    if not folder.exists():
        return []
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and path.stem == CUSTOMER_FILE_STEM
        and path.suffix.lower() in CUSTOMER_FILE_SUFFIXES
    )


def _redacted(path: Path, content: bytes, customer_id: str) -> RedactedText:
    if path.suffix.lower() == ".json":
        return redact_customers_json(content, customer_id)
    return redact_customers_csv(content, customer_id)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a hidden file in the same folder, then rename it."""
    draft = path.with_name(f".{path.name}.erasure-{secrets.token_hex(4)}")
    draft.write_text(text, encoding="utf-8", newline="")
    shutil.copymode(path, draft)
    os.replace(draft, path)


def erase_customer(
    url: str,
    customer_id: str,
    *,
    reason: str,
    landing: Path | None = None,
    key: bytes | None = None,
) -> ErasureReport:
    """Erase ``customer_id``'s personal data and record why; settlement history is untouched.

    ``landing`` is the registry landing folder (default ``var/landing/registry``); ``key`` the
    pseudonym key (default ``VPPAL_PSEUDONYM_KEY``). Erasing again is allowed: it blanks what
    re-landed files brought and records another row. Raises ``UnknownCustomerError`` for an id
    found nowhere (a typo), ``ErasureReasonError`` for an empty reason or one that contains
    the customer's name, e-mail or address.
    """
    customer_id = customer_id.strip()
    reason = reason.strip()
    if not customer_id:
        raise ValueError("customer_id is empty")
    if not reason:
        raise ErasureReasonError("a reason is required")
    if landing is None:
        from integrations.settings import LANDING_DIR

        landing = LANDING_DIR / "registry"
    if key is None:
        from integrations.secrets import load_pseudonym_key

        key = load_pseudonym_key()
    pseudonym = customer_pseudonym(customer_id, key)
    with psycopg.connect(url) as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (LOCK_KEY,))
        try:
            return _erase(conn, customer_id, pseudonym, reason, landing)
        finally:
            conn.rollback()
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (LOCK_KEY,))
            conn.commit()


def _erase(
    conn: psycopg.Connection, customer_id: str, pseudonym: str, reason: str, landing: Path
) -> ErasureReport:
    stored = conn.execute(
        "select name, email, address from pii.customers where customer_id = %s for update",
        (customer_id,),
    ).fetchone()
    already = conn.execute(
        "select exists (select 1 from ops.erasures where customer_pseudonym = %s)", (pseudonym,)
    ).fetchone()[0]
    values = {value for value in stored or () if value}
    rewrites: list[tuple[Path, RedactedText]] = []
    unreadable: list[tuple[Path, str]] = []
    for path in landed_customer_files(landing):
        content = path.read_bytes()
        try:
            redacted = _redacted(path, content, customer_id)
        except UnreadableFileError as error:
            unreadable.append((path, str(error)))
            continue
        if redacted.records:
            rewrites.append((path, redacted))
            values |= personal_values(content, customer_id, path.suffix.lower())
    if stored is None and not already and not rewrites:
        raise UnknownCustomerError(
            f"customer {customer_id} is not registered, was not erased before and is in no "
            "landed customers file"
        )
    folded = reason.casefold()
    if any(
        len(value) >= MIN_CHECKED_VALUE_LENGTH and value.casefold() in folded for value in values
    ):
        raise ErasureReasonError("the reason must not contain the customer's personal data")
    for path, redacted in rewrites:
        _replace(path, redacted.text)
    deleted = conn.execute("delete from pii.customers where customer_id = %s", (customer_id,))
    records = sum(redacted.records for _, redacted in rewrites)
    erasure_id = conn.execute(
        "insert into ops.erasures (customer_pseudonym, reason, personal_rows_deleted,"
        " landed_files_redacted, landed_records_redacted, landed_files_unreadable)"
        " values (%s, %s, %s, %s, %s, %s) returning erasure_id",
        (pseudonym, reason, deleted.rowcount, len(rewrites), records, len(unreadable)),
    ).fetchone()[0]
    conn.commit()
    return ErasureReport(
        erasure_id=erasure_id,
        customer_pseudonym=pseudonym,
        already_erased=already,
        personal_rows_deleted=deleted.rowcount,
        files_redacted=tuple(path for path, _ in rewrites),
        records_redacted=records,
        files_unreadable=tuple(unreadable),
    )
