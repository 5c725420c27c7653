"""Activation intake: check each received document, keep it, or refuse it with a clear error.

Every document (from the TSO's feed or a file landed in ``var/landing/tso/activations/``) is
judged once, by the digest of its exact bytes, into ``raw.activation_documents``:

- the signature (HMAC-SHA256 of the exact bytes with the TSO's key, ``domain.tso_signature``)
  must be present and right; a landed file carries it in a ``.sig`` file beside it;
- the document must be a valid Activation_MarketDocument (``integrations.cim.activations``:
  the hardened parser, the XSD, and the activation's own rules);
- an mRID and revision already received with other content is refused (the first one stays).

An accepted document is written to the inbox (``var/inbox/tso/activations/<key>.xml``) for the
dispatch run of its partition; a refused one goes to ``ops.quarantine`` with an
``activation_refused`` alert naming the document and the reason. Nothing else is touched.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from domain.cim.activation import Activation, ActivationDocumentError
from domain.cim.documents import content_digest
from domain.tso_signature import signature_problem
from integrations.cim.activations import read_activation
from integrations.settings import VAR_DIR

INBOX_DIR = VAR_DIR / "inbox" / "tso" / "activations"
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")


@dataclass(frozen=True)
class IntakeResult:
    """What became of one document: ``accepted`` (new), ``duplicate`` or ``refused``."""

    status: str
    document_sha256: str
    activation: Activation | None = None
    partition_key: str | None = None
    reason_code: str | None = None
    reason: str | None = None


def partition_key(activation: Activation) -> str:
    """The dispatch partition of an activation revision: ``<mRID>-r<revision>``."""
    mrid = activation.mrid
    if not _SAFE_KEY.match(mrid):
        mrid = "A" + hashlib.sha256(mrid.encode()).hexdigest()[:24]
    return f"{mrid}-r{activation.revision:03d}"


def inbox_path(key: str, inbox_dir: Path | None = None) -> Path:
    """Where the accepted document of partition ``key`` is kept."""
    return (inbox_dir or INBOX_DIR) / f"{key}.xml"


def _judge(xml: bytes, signature: str | None, key: bytes) -> Activation:
    problem = signature_problem(key, xml, signature)
    if problem is not None:
        raise ActivationDocumentError(
            None,
            f"signature_{problem}",
            f"the signature is {problem}, so the document is not known to come from the TSO",
        )
    return read_activation(xml)


def _refuse(
    conn: psycopg.Connection,
    *,
    sha: str,
    source: str,
    sequence: int | None,
    xml: bytes,
    error: ActivationDocumentError,
    now: datetime,
) -> IntakeResult:
    mrid, revision, code = error.mrid, error.revision, error.reason
    reason = f"{error} (received from {source}, sha256 {sha[:16]})"
    conn.execute(
        "insert into raw.activation_documents (document_sha256, source, feed_sequence,"
        " document_mrid, revision, received_at, status, reason_code, reason)"
        " values (%s, %s, %s, %s, %s, %s, 'refused', %s, %s)",
        (sha, source, sequence, mrid, revision, now, code, reason),
    )
    conn.execute(
        "insert into ops.quarantine (source, source_sha256, source_line, entity, record,"
        " reason_code, reason, received_at) values (%s, %s, 0, 'activation_document', %s, %s,"
        " %s, %s) on conflict (source, source_sha256, source_line, reason_code) do nothing",
        (
            source,
            sha,
            Jsonb({"mrid": mrid, "revision": revision, "bytes": len(xml)}),
            code,
            reason,
            now,
        ),
    )
    conn.execute(
        "insert into ops.alerts (alert_type, alert_key, entity_id, severity, message, details,"
        " opened_at) values ('activation_refused', %s, %s, 'error', %s, %s, now())"
        " on conflict (alert_key) do nothing",
        (
            f"activation_refused:{sha}",
            mrid or sha[:16],
            reason,
            json.dumps({"source": source, "reason_code": code, "sha256": sha}),
        ),
    )
    return IntakeResult("refused", sha, reason_code=code, reason=reason)


def take_document(
    conn: psycopg.Connection,
    xml: bytes,
    signature: str | None,
    *,
    source: str,
    key: bytes,
    sequence: int | None = None,
    inbox_dir: Path | None = None,
) -> IntakeResult:
    """Judge one received document and record the verdict (in ``conn``'s transaction)."""
    sha = hashlib.sha256(xml).hexdigest()
    now = datetime.now(UTC)
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"vppal.activation:{sha}",))
    known = conn.execute(
        "select status, reason_code, reason from raw.activation_documents"
        " where document_sha256 = %s",
        (sha,),
    ).fetchone()
    try:
        activation = _judge(xml, signature, key)
    except ActivationDocumentError as error:
        if known is not None:
            return IntakeResult("duplicate", sha, reason_code=known[1], reason=known[2])
        return _refuse(
            conn, sha=sha, source=source, sequence=sequence, xml=xml, error=error, now=now
        )
    key_ = partition_key(activation)
    if known is not None:
        return IntakeResult("duplicate", sha, activation, key_)
    other = conn.execute(
        "select document_sha256 from raw.activation_documents where document_mrid = %s"
        " and revision = %s and status = 'accepted'",
        (activation.mrid, activation.revision),
    ).fetchone()
    if other is not None:
        first = inbox_path(key_, inbox_dir)
        if first.exists() and content_digest_of(first.read_bytes()) == content_digest_of(xml):
            return IntakeResult("duplicate", sha, activation, key_)  # re-sent, new timestamp
        conflict = ActivationDocumentError(
            activation.mrid,
            "conflicting_revision",
            "this mRID and revision were received before with other content; the first stands",
            revision=activation.revision,
        )
        return _refuse(
            conn, sha=sha, source=source, sequence=sequence, xml=xml, error=conflict, now=now
        )
    path = inbox_path(key_, inbox_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_suffix(".tmp")
    draft.write_bytes(xml)
    draft.replace(path)
    conn.execute(
        "insert into raw.activation_documents (document_sha256, source, feed_sequence,"
        " document_mrid, revision, received_at, status) values (%s, %s, %s, %s, %s, %s,"
        " 'accepted')",
        (sha, source, sequence, activation.mrid, activation.revision, now),
    )
    return IntakeResult("accepted", sha, activation, key_)


def content_digest_of(xml: bytes) -> str:
    """The content digest (blind to createdDateTime) of trusted inbox bytes."""
    from integrations.cim.schemas import parse_document

    _, root = parse_document(xml)
    return content_digest(root)
