"""Signatures of the TSO's activation documents: HMAC-SHA256 over the exact XML bytes.

The TSO signs every activation it publishes with a key it shares with the aggregator
(``VPPAL_TSO_SIGNING_KEY``, loaded by ``integrations.secrets.load_tso_signing_key``). The
signature travels beside the document, never inside it, and covers its bytes exactly as
published: re-serialising, re-indenting or re-encoding the XML breaks it, so a platform must
verify the bytes it received before it parses them.

A signature is written ``sha256=`` followed by 64 lowercase hex characters (the form of
GitHub's and many webhook senders' ``X-Hub-Signature-256``), so the algorithm is named and a
bare digest or a signature of another algorithm is refused rather than misread. ``verify``
compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re

PREFIX = "sha256="
MIN_KEY_BYTES = 32
_FORM = re.compile(r"sha256=[0-9a-f]{64}")

UNSIGNED = "unsigned"
MALFORMED = "malformed"
MISMATCH = "mismatch"


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the TSO signing key must be at least {MIN_KEY_BYTES} bytes")


def sign(key: bytes, xml: bytes) -> str:
    """The signature of ``xml`` under ``key``: ``sha256=<hex HMAC-SHA256>``."""
    _check_key(key)
    if not isinstance(xml, bytes | bytearray):
        raise TypeError("sign takes the document's bytes")
    return PREFIX + hmac.new(key, bytes(xml), hashlib.sha256).hexdigest()


def signature_problem(key: bytes, xml: bytes, signature: str | None) -> str | None:
    """Why ``signature`` does not authenticate ``xml`` (None when it does).

    ``unsigned``: no signature at all; ``malformed``: not ``sha256=`` and 64 lowercase hex
    characters; ``mismatch``: well-formed but not the signature of these bytes under this key
    (a changed byte, another key).
    """
    if signature is None or not signature.strip():
        return UNSIGNED
    if not _FORM.fullmatch(signature):
        return MALFORMED
    expected = sign(key, xml)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        return MISMATCH
    return None


def verify(key: bytes, xml: bytes, signature: str | None) -> bool:
    """True when ``signature`` is the signature of exactly these bytes under ``key``."""
    return signature_problem(key, xml, signature) is None
