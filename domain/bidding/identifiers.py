"""Deterministic mRIDs for bids and bid documents, and the EIC check character.

A bid's mRID names one bid position and stays the same over its revisions: pool, market, gate,
ISP, direction and ladder step. A document's mRID also carries the document's revision, so
every different document sent for one pool, market and gate has an mRID of its own. Both are
at most 35 characters (ENTSO-E's recommended identifier length): a readable part (UTC ISP or
gate, direction, step, revision) and 12 hex digits of a SHA-256 over every field, so ids of
different pools or markets never collide in practice (48 bits).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from domain.bidding.markets import check_direction

MRID_MAX_LENGTH = 35
_EIC_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12].upper()


def _utc(ts: datetime) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{ts.isoformat()} is naive; give a timezone-aware datetime")
    return ts.astimezone(UTC)


def bid_mrid(
    pool_id: str, market: str, gate: datetime, isp_start: datetime, direction: str, step: int
) -> str:
    """The mRID of ladder step ``step`` (1, 2, ...) of a pool's bid for one ISP and direction."""
    check_direction(direction)
    if not 1 <= step <= 999:
        raise ValueError(f"step must be within 1..999, got {step}")
    isp = _utc(isp_start)
    digest = _digest(
        "bid", pool_id, market, _utc(gate).isoformat(), isp.isoformat(), direction, str(step)
    )
    return f"B{isp:%Y%m%d%H%M}{direction[0].upper()}{step:03d}-{digest}"  # 30 characters


def document_mrid(pool_id: str, market: str, gate: datetime, revision: int) -> str:
    """The mRID of revision ``revision`` of the bid document for one pool, market and gate."""
    if not 1 <= revision <= 999:
        raise ValueError(f"revision must be within 1..999, got {revision}")
    closes = _utc(gate)
    digest = _digest("document", pool_id, market, closes.isoformat(), str(revision))
    return f"D{closes:%Y%m%d%H%M}R{revision:03d}-{digest}"  # 30 characters


def eic_check_character(code: str) -> str:
    """The check character (16th) of an EIC whose first 15 characters are given."""
    body = code[:15].upper()
    if len(body) != 15 or any(char not in _EIC_ALPHABET for char in body):
        raise ValueError(
            f"{code!r}: an EIC has 15 characters from 0-9, A-Z and '-' before its check"
        )
    total = sum(_EIC_ALPHABET.index(char) * (16 - i) for i, char in enumerate(body))
    return _EIC_ALPHABET[36 - (total - 1) % 37]


def is_valid_eic(code: str) -> bool:
    """True when ``code`` is 16 characters whose last one is the right check character."""
    try:
        return len(code) == 16 and code[15] == eic_check_character(code)
    except ValueError:
        return False
