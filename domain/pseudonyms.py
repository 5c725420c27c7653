"""Keyed pseudonyms: what the TSO sees instead of a device id.

A pseudonym is ``PSN-`` followed by the first 128 bits of HMAC-SHA256(key, "device:" + device
id), in unpadded RFC 4648 base32 (26 characters): 30 characters in all, within every CIM id
field the platform fills (mRIDs and measurement points: 35 to 60 characters). The same key
always gives the same pseudonym for a device, another key gives unrelated ones, and without
the key a pseudonym cannot be traced back to its device. The key comes from the environment
(``integrations.secrets``); this module never sees where.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

PREFIX = "PSN-"
MIN_KEY_BYTES = 32
#: Length of a pseudonym: the prefix and 26 base32 characters (128 bits).
PSEUDONYM_LENGTH = len(PREFIX) + 26
_PATTERN = re.compile(rf"^{PREFIX}[A-Z2-7]{{26}}$")


def pseudonym(key: bytes, device_id: str) -> str:
    """The device's pseudonym under ``key`` (at least 32 bytes)."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"pseudonym key must be at least {MIN_KEY_BYTES} bytes")
    if not device_id:
        raise ValueError("device_id is empty")
    digest = hmac.new(key, f"device:{device_id}".encode(), hashlib.sha256).digest()
    return PREFIX + base64.b32encode(digest[:16]).decode("ascii").rstrip("=")


def is_pseudonym(text: str) -> bool:
    """Tell whether ``text`` has the shape of a pseudonym (and so is not a raw device id)."""
    return bool(_PATTERN.match(text))
