from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import psycopg
import pytest
import requests

from domain.cim.measurement_value import KIND_POOL_MEASUREMENTS, pool_measurement_document
from domain.cim.timing import Period
from integrations.cim.schemas import CimValidationError
from integrations.tso_client import TsoClient, TsoUnavailableError
from integrations.tso_submissions import (
    SubmissionConflictError,
    document_identity,
    guard_content,
    next_revision,
    pending_submissions,
    prepare_submission,
    submit,
)
from simulators.service import HttpError, JsonService, RawBody
from simulators.tso import DocumentInbox, build_tso_simulator

START = datetime(2025, 2, 27, 10, tzinfo=UTC)
PERIOD = Period(START, START + timedelta(minutes=15))


def builder(value: float, created_at: datetime = START):
    values = {START + timedelta(minutes=i): value for i in range(15)}

    def build(revision: int) -> bytes:
        return pool_measurement_document(
            "POOL-1", PERIOD, values, created_at=created_at, revision=revision
        )

    return build


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url) as connection:
        connection.execute("truncate ops.tso_submissions restart identity cascade")
        connection.commit()
        yield connection


@pytest.fixture
def tso():
    service = build_tso_simulator()
    service.start()
    yield service
    service.stop()


def prepare(conn, outbox, value, created_at=START):
    submission = prepare_submission(
        conn,
        document_kind=KIND_POOL_MEASUREMENTS,
        pool_id="POOL-1",
        period_start=PERIOD.start,
        period_end=PERIOD.end,
        build=builder(value, created_at),
        outbox_dir=outbox,
    )
    conn.commit()
    return submission


def test_equal_content_keeps_its_revision_and_changed_content_gets_the_next(conn, tmp_path):
    first = prepare(conn, tmp_path, 1.0)
    assert first.created_now and first.revision == 1 and first.ack_status is None
    assert first.outbox_path == tmp_path / f"{first.document_mrid}_r1.xml"
    assert document_identity(first.outbox_path.read_bytes())[1:3] == (first.document_mrid, 1)
    rerun = prepare(conn, tmp_path, 1.0, created_at=START + timedelta(hours=1))
    assert not rerun.created_now and rerun.revision == 1
    assert rerun.file_sha256 == first.file_sha256  # the outbox file was not rewritten
    changed = prepare(conn, tmp_path, 1.5)
    assert changed.created_now and changed.revision == 2
    assert changed.document_mrid == first.document_mrid
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{first.document_mrid}_r1.xml",
        f"{first.document_mrid}_r2.xml",
    ]
    back = prepare(conn, tmp_path, 1.0)  # back to the first content: a new revision again
    assert back.revision == 3
    assert next_revision(conn, first.document_mrid, back.content_sha256) == (3, False)


def test_a_document_failing_its_xsd_is_neither_written_nor_recorded(conn, tmp_path):
    def broken(revision):
        return builder(1.0)(revision).replace(b"<type>A45</type>", b"<type>ZZZ</type>")

    with pytest.raises(CimValidationError, match="ZZZ"):
        prepare_submission(
            conn,
            document_kind=KIND_POOL_MEASUREMENTS,
            pool_id="POOL-1",
            period_start=PERIOD.start,
            period_end=PERIOD.end,
            build=broken,
            outbox_dir=tmp_path,
        )
    conn.rollback()
    assert list(tmp_path.iterdir()) == []
    assert conn.execute("select count(*) from ops.tso_submissions").fetchone()[0] == 0


def test_the_guard_refuses_other_content_under_a_recorded_mrid_and_revision(conn, tmp_path, tso):
    submission = prepare(conn, tmp_path, 1.0)
    guard_content(conn, submission.document_mrid, 1, submission.content_sha256)
    with pytest.raises(SubmissionConflictError, match="other content"):
        guard_content(conn, submission.document_mrid, 1, "0" * 64)
    with pytest.raises(SubmissionConflictError, match="never recorded"):
        guard_content(conn, submission.document_mrid, 2, submission.content_sha256)
    # someone edits the outbox file: submit refuses before anything is posted
    tampered = builder(9.0)(1)
    submission.outbox_path.write_bytes(tampered)
    with pytest.raises(SubmissionConflictError, match="other content"):
        submit(conn, TsoClient(base_url=tso.url), submission)
    assert requests.get(f"{tso.url}/api/v1/documents", timeout=10).json()["documents"] == []


def test_a_submission_is_sent_acknowledged_and_recorded(conn, tmp_path, tso):
    submission = prepare(conn, tmp_path, 1.0)
    assert pending_submissions(conn) == [replace(submission, created_now=False)]
    answer = submit(conn, TsoClient(base_url=tso.url), submission)
    assert answer.accepted and answer.attempts == 1
    row = conn.execute(
        "select attempts, http_status, ack_status, ack_reason_code, ack_mrid, acknowledged_at"
        " from ops.tso_submissions"
    ).fetchone()
    assert row[:4] == (1, 200, "accepted", "A01")
    assert row[4] == answer.acknowledgement.mrid and row[5] is not None
    assert pending_submissions(conn) == []


def test_posts_that_fail_are_recorded_and_the_same_bytes_are_sent_again_later(conn, tmp_path):
    submission = prepare(conn, tmp_path, 1.0)
    gone = JsonService("gone")
    gone.start()
    url = gone.url
    gone.stop()
    with pytest.raises(TsoUnavailableError):
        submit(conn, TsoClient(base_url=url, document_attempts=2, backoff_s=0.01), submission)
    attempts, error = conn.execute(
        "select attempts, last_error from ops.tso_submissions"
    ).fetchone()
    assert attempts == 2 and "ConnectionError" in error
    [pending] = pending_submissions(conn)

    inbox, bodies = DocumentInbox(), []
    flaky = JsonService("flaky-tso")

    @flaky.route("POST", "/api/v1/documents")
    def receive(request):
        bodies.append(request.raw)
        if len(bodies) == 1:
            raise HttpError(HTTPStatus.INTERNAL_SERVER_ERROR, "busy")
        status, answer = inbox.receive(request.raw)
        return status, RawBody(answer)

    flaky.start()
    try:
        answer = submit(conn, TsoClient(base_url=flaky.url, backoff_s=0.01), pending)
    finally:
        flaky.stop()
    assert answer.accepted and answer.attempts == 2
    assert bodies == [submission.outbox_path.read_bytes()] * 2
    attempts, error, status = conn.execute(
        "select attempts, last_error, ack_status from ops.tso_submissions"
    ).fetchone()
    assert (attempts, error, status) == (4, None, "accepted")


def test_a_rejection_is_recorded_with_its_reason(conn, tmp_path, tso):
    submission = prepare(conn, tmp_path, 1.0)
    other = builder(2.0)(1)  # the TSO already holds other content under this mRID+revision
    requests.post(
        f"{tso.url}/api/v1/documents",
        data=other,
        headers={"Content-Type": "application/xml"},
        timeout=10,
    )
    answer = submit(conn, TsoClient(base_url=tso.url), submission)
    assert not answer.accepted
    status, code, reason = conn.execute(
        "select ack_status, ack_reason_code, ack_reason from ops.tso_submissions"
    ).fetchone()
    assert (status, code) == ("rejected", "A51") and "other content" in reason


def test_a_lost_outbox_file_is_rebuilt_under_the_same_revision(conn, tmp_path):
    first = prepare(conn, tmp_path, 1.0)
    first.outbox_path.unlink()
    again = prepare(conn, tmp_path, 1.0, created_at=START + timedelta(days=1))
    assert again.revision == 1 and again.outbox_path.exists()
    assert again.content_sha256 == first.content_sha256
    assert again.file_sha256 != first.file_sha256
