"""CIM documents for the TSO: revisions, the outbox, records in ops.tso_submissions, the guard.

The life of a document (kind, pool, period):

1. ``prepare_submission`` builds it, reads its mRID (deterministic per kind, pool and period)
   and compares its content digest (``domain.cim.documents.content_digest``: blind to
   createdDateTime and revisionNumber) with the latest recorded revision of that mRID:
   equal content reuses that revision and writes nothing; changed or new content gets the
   next revision (1 for a new mRID), is validated against its XSD, written to
   ``var/outbox/tso/<mrid>_r<revision>.xml`` and recorded, unacknowledged.
2. ``submit`` sends the outbox file's exact bytes with ``TsoClient.submit_document`` (which
   retries with backoff) after ``guard_content`` has checked them against the record, then
   records the attempts and the acknowledgement. Documents still unacknowledged (the TSO was
   down) open a ``tso_document_unanswered`` alert, are listed by ``pending_submissions`` and
   are sent again, with the same bytes, later; the answer closes the alert.

So a re-run never produces a second revision for equal content, and an mRID+revision is never
sent with content other than what was recorded for it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from domain.cim.documents import content_digest, read_header
from integrations.cim.schemas import parse_document, validate_root
from integrations.settings import OUTBOX_DIR

if TYPE_CHECKING:
    from integrations.tso_client import DocumentAnswer, TsoClient

TSO_OUTBOX_DIR = OUTBOX_DIR / "tso"
#: Opened when the TSO stays unavailable for a revision after every try; closed on its answer.
UNANSWERED_ALERT = "tso_document_unanswered"
_COLUMNS = (
    "document_mrid, revision, document_kind, pool_id, period_start, period_end,"
    " content_sha256, file_sha256, outbox_path, attempts, ack_status"
)


class SubmissionConflictError(RuntimeError):
    """An mRID+revision would be sent with content other than what was recorded for it."""


@dataclass(frozen=True)
class Submission:
    """One recorded document revision for the TSO, and where its bytes are."""

    document_mrid: str
    revision: int
    document_kind: str
    pool_id: str | None
    period_start: datetime
    period_end: datetime
    content_sha256: str
    file_sha256: str
    outbox_path: Path
    attempts: int = 0
    ack_status: str | None = None
    created_now: bool = False

    @property
    def acknowledged(self) -> bool:
        """True once the TSO answered (accepted or rejected)."""
        return self.ack_status is not None


def _submission(row: tuple) -> Submission:
    mrid, revision, kind, pool, start, end, content, file_sha, path, attempts, status = row
    return Submission(
        mrid, revision, kind, pool, start, end, content, file_sha, Path(path), attempts, status
    )


def outbox_file(outbox_dir: Path, document_mrid: str, revision: int) -> Path:
    """Where a document revision's bytes live: ``<outbox>/<mrid>_r<revision>.xml``."""
    if not document_mrid or any(c in document_mrid for c in "/\\\0") or document_mrid[0] == ".":
        raise ValueError(f"mRID {document_mrid!r} cannot name a file")
    return outbox_dir / f"{document_mrid}_r{revision}.xml"


def document_identity(xml: bytes) -> tuple[str, str, int | None, str]:
    """(kind, mRID, revision, content digest) of a document, parsed safely."""
    kind, root = parse_document(xml)
    header = read_header(root)
    if not header.mrid:
        raise ValueError(f"{kind} has no mRID")
    return kind, header.mrid, header.revision, content_digest(root)


def next_revision(
    conn: psycopg.Connection, document_mrid: str, content_sha256: str
) -> tuple[int, bool]:
    """The revision for content under ``document_mrid``, and whether it is a new one.

    No revision yet: (1, True). The latest revision has this content: (that revision, False).
    Otherwise: (latest + 1, True).
    """
    row = conn.execute(
        "select revision, content_sha256 from ops.tso_submissions where document_mrid = %s"
        " order by revision desc limit 1",
        (document_mrid,),
    ).fetchone()
    if row is None:
        return 1, True
    revision, recorded = row
    return (revision, False) if recorded == content_sha256 else (revision + 1, True)


def guard_content(
    conn: psycopg.Connection, document_mrid: str, revision: int, content_sha256: str
) -> None:
    """Raise ``SubmissionConflictError`` unless this mRID+revision was recorded with it."""
    row = conn.execute(
        "select content_sha256 from ops.tso_submissions where document_mrid = %s and revision = %s",
        (document_mrid, revision),
    ).fetchone()
    if row is None:
        raise SubmissionConflictError(f"{document_mrid} r{revision} was never recorded")
    if row[0] != content_sha256:
        raise SubmissionConflictError(
            f"{document_mrid} r{revision} was recorded with other content "
            f"({row[0][:12]}…, now {content_sha256[:12]}…); it must not be sent"
        )


def write_outbox(
    xml: bytes, outbox_dir: Path | None = None, revision_if_absent: int | None = None
) -> Path:
    """Validate a document against its XSD, then write it atomically to the outbox.

    Raises ``CimValidationError`` (and writes nothing) when the document is not valid.
    ``revision_if_absent`` names the file of a document type without a revisionNumber (an
    acknowledgement, which is never revised).
    """
    kind, root = parse_document(xml)
    validate_root(root, kind)
    header = read_header(root)
    revision = header.revision if header.revision is not None else revision_if_absent
    if not header.mrid or revision is None:
        raise ValueError(f"{kind} needs an mRID and a revisionNumber to be submitted")
    target = outbox_file(outbox_dir or TSO_OUTBOX_DIR, header.mrid, revision)
    target.parent.mkdir(parents=True, exist_ok=True)
    draft = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    draft.write_bytes(xml)
    os.replace(draft, target)
    return target


def _recorded(conn: psycopg.Connection, document_mrid: str, revision: int) -> Submission:
    row = conn.execute(
        f"select {_COLUMNS} from ops.tso_submissions where document_mrid = %s and revision = %s",
        (document_mrid, revision),
    ).fetchone()
    assert row is not None
    return _submission(row)


def _write_and_record(
    conn: psycopg.Connection,
    xml: bytes,
    mrid: str,
    revision: int,
    digest: str,
    *,
    recorded_before: bool,
    document_kind: str,
    pool_id: str | None,
    period_start: datetime,
    period_end: datetime,
    outbox_dir: Path | None,
) -> Submission:
    """Write checked bytes to the outbox and record them.

    A new row; or, when ``recorded_before`` (its outbox file was lost), the same row pointing
    at the rewritten file.
    """
    path = write_outbox(xml, outbox_dir, revision)
    file_sha = hashlib.sha256(xml).hexdigest()
    if recorded_before:
        conn.execute(
            "update ops.tso_submissions set file_sha256 = %s, outbox_path = %s"
            " where document_mrid = %s and revision = %s",
            (file_sha, str(path), mrid, revision),
        )
    else:
        conn.execute(
            "insert into ops.tso_submissions (document_mrid, revision, document_kind, pool_id,"
            " period_start, period_end, content_sha256, file_sha256, outbox_path)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                mrid,
                revision,
                document_kind,
                pool_id,
                period_start,
                period_end,
                digest,
                file_sha,
                str(path),
            ),
        )
    return replace(_recorded(conn, mrid, revision), created_now=True)


def prepare_submission(
    conn: psycopg.Connection,
    *,
    document_kind: str,
    pool_id: str | None,
    period_start: datetime,
    period_end: datetime,
    build: Callable[[int], bytes],
    outbox_dir: Path | None = None,
) -> Submission:
    """Build a document, give it its revision, validate, write to the outbox and record it.

    ``build(revision)`` returns the document's bytes with that revisionNumber (and the same
    content for the same revision). Equal content to the latest recorded revision returns that
    record (``created_now`` False) without writing, unless its outbox file is gone, in which
    case it is rebuilt under the same revision. Runs in ``conn``'s transaction, which holds an
    advisory lock on the mRID until it ends.
    """
    draft = build(1)
    _, mrid, _, digest = document_identity(draft)
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"vppal.tso_submission:{mrid}",))
    revision, is_new = next_revision(conn, mrid, digest)
    if not is_new:
        recorded = _recorded(conn, mrid, revision)
        if recorded.outbox_path.exists():
            return recorded
    xml = draft if revision == 1 else build(revision)
    _, built_mrid, built_revision, built_digest = document_identity(xml)
    if (built_mrid, built_revision, built_digest) != (mrid, revision, digest):
        raise ValueError(f"build({revision}) did not give {mrid} r{revision} with equal content")
    return _write_and_record(
        conn,
        xml,
        mrid,
        revision,
        digest,
        recorded_before=not is_new,
        document_kind=document_kind,
        pool_id=pool_id,
        period_start=period_start,
        period_end=period_end,
        outbox_dir=outbox_dir,
    )


def record_document(
    conn: psycopg.Connection,
    xml: bytes,
    *,
    document_kind: str,
    pool_id: str | None,
    period_start: datetime,
    period_end: datetime,
    outbox_dir: Path | None = None,
    revision_if_absent: int | None = None,
) -> Submission:
    """Validate, write to the outbox and record a document that carries its own revision.

    For documents whose mRID and revision the domain decides (bid documents: one mRID per
    revision, ``domain.bidding.documents``; activation answers, whose mRID derives from the
    activation). ``revision_if_absent`` is recorded for a type without a revisionNumber (an
    acknowledgement). The same mRID+revision with equal content returns the record (rewriting
    a lost outbox file); with other content it raises ``SubmissionConflictError``: it must
    never be sent. Runs in ``conn``'s transaction under an advisory lock on the mRID.
    """
    _, mrid, revision, digest = document_identity(xml)
    revision = revision if revision is not None else revision_if_absent
    if revision is None:
        raise ValueError(f"{document_kind} {mrid} has no revisionNumber")
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"vppal.tso_submission:{mrid}",))
    row = conn.execute(
        "select content_sha256 from ops.tso_submissions where document_mrid = %s and revision = %s",
        (mrid, revision),
    ).fetchone()
    if row is not None and row[0] != digest:
        raise SubmissionConflictError(
            f"{mrid} r{revision} was recorded with other content ({row[0][:12]}…, now "
            f"{digest[:12]}…); a changed document needs the next revision"
        )
    if row is not None and _recorded(conn, mrid, revision).outbox_path.exists():
        return _recorded(conn, mrid, revision)
    return _write_and_record(
        conn,
        xml,
        mrid,
        revision,
        digest,
        recorded_before=row is not None,
        document_kind=document_kind,
        pool_id=pool_id,
        period_start=period_start,
        period_end=period_end,
        outbox_dir=outbox_dir,
    )


def pending_submissions(
    conn: psycopg.Connection, document_kind: str | None = None
) -> list[Submission]:
    """Recorded revisions the TSO has not acknowledged yet, oldest first."""
    rows = conn.execute(
        f"select {_COLUMNS} from ops.tso_submissions where ack_status is null"
        " and (%s::text is null or document_kind = %s) order by created_at, submission_id",
        (document_kind, document_kind),
    ).fetchall()
    return [_submission(row) for row in rows]


def record_attempt(
    conn: psycopg.Connection,
    submission: Submission,
    *,
    attempts: int,
    submitted_at: datetime,
    error: str | None = None,
) -> None:
    """Count ``attempts`` more posts of a revision (and the last error, if it failed)."""
    conn.execute(
        "update ops.tso_submissions set attempts = attempts + %s, submitted_at = %s,"
        " last_error = %s where document_mrid = %s and revision = %s",
        (attempts, submitted_at, error, submission.document_mrid, submission.revision),
    )


def record_acknowledgement(
    conn: psycopg.Connection,
    submission: Submission,
    answer: DocumentAnswer,
    *,
    submitted_at: datetime,
    acknowledged_at: datetime,
) -> None:
    """Store the TSO's acknowledgement of a revision and the posts it took."""
    ack = answer.acknowledgement
    specific = ack.reasons[-1] if ack.reasons else None
    conn.execute(
        "update ops.tso_submissions set attempts = attempts + %s, submitted_at = %s,"
        " http_status = %s, last_error = null, ack_mrid = %s, ack_status = %s,"
        " ack_reason_code = %s, ack_reason = %s, acknowledged_at = %s"
        " where document_mrid = %s and revision = %s",
        (
            answer.attempts,
            submitted_at,
            answer.http_status,
            ack.mrid,
            ack.status,
            specific.code if specific else None,
            ack.reason_text,
            acknowledged_at,
            submission.document_mrid,
            submission.revision,
        ),
    )


def submit(conn: psycopg.Connection, tso: TsoClient, submission: Submission) -> DocumentAnswer:
    """Send a recorded revision's outbox bytes to the TSO and record the answer; commits.

    ``guard_content`` runs on the bytes first. The outcome (acknowledgement, or the attempts
    and error when the TSO stayed unavailable) is committed before returning or raising
    ``TsoUnavailableError``, so a failed run still leaves its attempts on record.
    """
    from integrations.tso_client import TsoUnavailableError

    xml = submission.outbox_path.read_bytes()
    _, mrid, revision, digest = document_identity(xml)
    revision = revision if revision is not None else submission.revision  # acknowledgements
    if (mrid, revision) != (submission.document_mrid, submission.revision):
        raise SubmissionConflictError(
            f"{submission.outbox_path} holds {mrid} r{revision}, not "
            f"{submission.document_mrid} r{submission.revision}"
        )
    guard_content(conn, mrid, revision, digest)
    submitted_at = datetime.now(UTC)
    try:
        answer = tso.submit_document(xml, mrid, revision)
    except TsoUnavailableError as error:
        record_attempt(
            conn, submission, attempts=error.attempts, submitted_at=submitted_at, error=str(error)
        )
        open_unanswered_alert(conn, submission, str(error))
        conn.commit()
        raise
    record_acknowledgement(
        conn, submission, answer, submitted_at=submitted_at, acknowledged_at=datetime.now(UTC)
    )
    close_unanswered_alert(conn, submission)
    conn.commit()
    return answer


def _unanswered_key(submission: Submission) -> str:
    return f"{UNANSWERED_ALERT}:{submission.document_mrid}:{submission.revision}"


def open_unanswered_alert(conn: psycopg.Connection, submission: Submission, error: str) -> None:
    """Open (or update) the alert that the TSO did not answer this revision after every try."""
    [(attempts,)] = conn.execute(
        "select attempts from ops.tso_submissions where document_mrid = %s and revision = %s",
        (submission.document_mrid, submission.revision),
    ).fetchall()
    conn.execute(
        "insert into ops.alerts (alert_type, alert_key, entity_id, severity, message, details,"
        " opened_at) values (%s, %s, %s, 'error', %s, %s, now())"
        " on conflict (alert_key) do update set message = excluded.message,"
        " details = excluded.details, closed_at = null, updated_at = now()",
        (
            UNANSWERED_ALERT,
            _unanswered_key(submission),
            submission.document_mrid,
            f"the TSO did not acknowledge {submission.document_kind} document "
            f"{submission.document_mrid} r{submission.revision} ({attempts} posts so far): "
            f"{error}",
            json.dumps(
                {
                    "kind": submission.document_kind,
                    "revision": submission.revision,
                    "attempts": attempts,
                    "last_error": error,
                    "outbox_path": str(submission.outbox_path),
                }
            ),
        ),
    )


def close_unanswered_alert(conn: psycopg.Connection, submission: Submission) -> None:
    """Close the revision's unanswered alert, if any, once the TSO acknowledged it."""
    conn.execute(
        "update ops.alerts set closed_at = now(), updated_at = now(),"
        " details = details || jsonb_build_object('resolution', 'acknowledged')"
        " where alert_key = %s and closed_at is null",
        (_unanswered_key(submission),),
    )
