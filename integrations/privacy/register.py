"""The erasure register ``ops.erasures``: whose personal data was erased, by pseudonym only."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from domain.settlement.contracts import customer_pseudonym

#: Tells whether a customer id belongs to an erased customer.
ErasedCheck = Callable[[str], bool]


def erased_pseudonyms(conn: psycopg.Connection) -> set[str]:
    """The pseudonyms of every customer whose personal data was erased."""
    return {row[0] for row in conn.execute("select customer_pseudonym from ops.erasures")}


def erased_customer_check(conn: psycopg.Connection, key: bytes | None = None) -> ErasedCheck | None:
    """A check by customer id against the register; None when nobody was erased.

    The register holds pseudonyms, so an id is checked by its pseudonym under the platform's
    key (``VPPAL_PSEUDONYM_KEY``), which is loaded only when the register is not empty.
    """
    erased = erased_pseudonyms(conn)
    if not erased:
        return None
    if key is None:
        from integrations.secrets import load_pseudonym_key

        key = load_pseudonym_key()
    secret = key
    return lambda customer_id: customer_pseudonym(customer_id, secret) in erased
