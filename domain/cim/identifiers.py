"""Identifiers in CIM documents: deterministic document mRIDs and EIC check characters."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

#: The shortest mRID limit among the bundled schemas (older ReserveBid, Activation and
#: Acknowledgement versions allow 35 characters; newer ones 60).
MAX_MRID_LENGTH = 35
_EIC_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"


def kind_tag(kind: str) -> str:
    """Short readable tag of a document kind: the initials of its words (pool_baselines -> PB)."""
    words = [word for word in kind.replace("-", "_").split("_") if word]
    if not words:
        raise ValueError("document kind is empty")
    return "".join(word[0] for word in words).upper()[:6]


def document_mrid(kind: str, pool_id: str, period_start: datetime, period_end: datetime) -> str:
    """The mRID of the document of ``kind`` for a pool and period: the same on every run.

    ``<tag>-<26 base32 characters of SHA-256(kind, pool, start, end)>``, at most 33 characters.
    Revisions of the document share the mRID; ``revisionNumber`` tells them apart.
    """
    for moment in (period_start, period_end):
        if moment.tzinfo is None:
            raise ValueError("period bounds must be timezone-aware")
    bounds = (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for moment in (period_start, period_end)
    )
    key = "|".join((kind, pool_id, *bounds))
    digest = base64.b32encode(hashlib.sha256(key.encode()).digest()).decode("ascii")
    mrid = f"{kind_tag(kind)}-{digest[:26]}"
    assert len(mrid) <= MAX_MRID_LENGTH
    return mrid


def eic_check_character(first_fifteen: str) -> str:
    """The 16th (check) character of an EIC code, from its first 15 characters."""
    if len(first_fifteen) != 15 or any(c not in _EIC_ALPHABET for c in first_fifteen):
        raise ValueError("an EIC starts with 15 characters from A-Z, 0-9 and '-'")
    total = sum(_EIC_ALPHABET.index(c) * (16 - i) for i, c in enumerate(first_fifteen))
    return _EIC_ALPHABET[36 - (total - 1) % 37]


def is_valid_eic(code: str) -> bool:
    """Tell whether ``code`` is a 16-character EIC with a correct check character."""
    try:
        return len(code) == 16 and eic_check_character(code[:15]) == code[15]
    except ValueError:
        return False
