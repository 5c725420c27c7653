"""Secrets from the environment: the pseudonym key and the TSO's activation signing key.

``VPPAL_PSEUDONYM_KEY`` holds at least 32 random bytes, written as hex (only the characters
0-9 and a-f, an even number of them) or else as base64 (standard or URL-safe alphabet,
padding optional). Without the variable:

- ``VPPAL_ENV=local`` or ``ci``: a random 32-byte key is generated once into
  ``var/secrets/pseudonym.key`` (hex, mode 0600, folder 0700) and reused, so pseudonyms stay
  stable across runs on this machine;
- ``VPPAL_ENV=prod``: refused. Production pseudonyms must come from a managed secret, because a
  lost or changed key changes every pseudonym the TSO has seen.

Neither the key nor anything derived from it but pseudonyms is ever logged or put in an error.

``VPPAL_TSO_SIGNING_KEY`` (``load_tso_signing_key``) follows the same rules: the key the TSO
signs its activation documents with (HMAC-SHA256, ``domain.tso_signature``), shared with the
TSO; without the variable local and ci generate ``var/secrets/tso_signing.key`` (which the
local TSO simulator reads too), and prod refuses to start.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from pathlib import Path

from domain.pseudonyms import MIN_KEY_BYTES
from integrations.settings import VAR_DIR, Environment, current_environment

KEY_VARIABLE = "VPPAL_PSEUDONYM_KEY"
KEY_FILE_NAME = "pseudonym.key"
TSO_SIGNING_KEY_VARIABLE = "VPPAL_TSO_SIGNING_KEY"
TSO_SIGNING_KEY_FILE_NAME = "tso_signing.key"
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")


class SecretError(RuntimeError):
    """A secret is missing or unusable; the message names the variable, never the value."""


def decode_key(text: str, source: str = KEY_VARIABLE) -> bytes:
    """Bytes of a key written as hex or base64; refuse keys shorter than 32 bytes."""
    text = text.strip()
    if _HEX.match(text):
        key = bytes.fromhex(text)
    else:
        padded = text + "=" * (-len(text) % 4)
        try:
            key = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise SecretError(f"{source} is neither hex nor base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise SecretError(f"{source} holds {len(key)} bytes; at least {MIN_KEY_BYTES} are needed")
    return key


def _local_key(folder: Path, file_name: str = KEY_FILE_NAME) -> bytes:
    """The key in ``folder/file_name``, created once with 32 random bytes (mode 0600).

    The new key is written to a private temporary file and linked into place, so concurrent
    first runs agree on one key and nobody reads a half-written file.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / file_name
    if not path.exists():
        draft = folder / f".{file_name}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(MIN_KEY_BYTES) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            draft.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return decode_key(path.read_text(encoding="ascii"), source=str(path))


def load_pseudonym_key(secrets_dir: Path | None = None) -> bytes:
    """The pseudonym key: ``VPPAL_PSEUDONYM_KEY``, else (local/ci only) the generated key file.

    ``secrets_dir`` defaults to ``var/secrets`` (under ``VPPAL_VAR_DIR``).
    """
    raw = os.environ.get(KEY_VARIABLE, "").strip()
    if raw:
        return decode_key(raw)
    environment = current_environment()
    if environment is Environment.PROD:
        raise SecretError(f"{KEY_VARIABLE} must be set when VPPAL_ENV=prod")
    return _local_key(secrets_dir if secrets_dir is not None else VAR_DIR / "secrets")


def load_tso_signing_key(secrets_dir: Path | None = None) -> bytes:
    """The TSO signing key: ``VPPAL_TSO_SIGNING_KEY``, else (local/ci only) a generated key file.

    Same rules as ``load_pseudonym_key``; the file is ``tso_signing.key`` in ``secrets_dir``
    (default ``var/secrets``).
    """
    raw = os.environ.get(TSO_SIGNING_KEY_VARIABLE, "").strip()
    if raw:
        return decode_key(raw, source=TSO_SIGNING_KEY_VARIABLE)
    if current_environment() is Environment.PROD:
        raise SecretError(f"{TSO_SIGNING_KEY_VARIABLE} must be set when VPPAL_ENV=prod")
    folder = secrets_dir if secrets_dir is not None else VAR_DIR / "secrets"
    return _local_key(folder, TSO_SIGNING_KEY_FILE_NAME)
