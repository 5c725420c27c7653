"""The TSO answers 500, too late, garbage or not at all while documents are submitted.

Real documents (pool MeasurementValue) are recorded in ``ops.tso_submissions`` and posted by
``integrations.tso_submissions.submit`` to a TSO simulator of this module's own, with faults
armed on ``POST /api/v1/documents``. What must hold whatever the TSO does: retries with
backoff, the attempts on record equal to the posts the TSO saw, an alert when every attempt
failed (closed by the answer), and never two different contents under one mRID+revision, in
the database or at the TSO.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.cim.measurement_value import KIND_POOL_MEASUREMENTS, pool_measurement_document
from domain.cim.timing import Period
from integrations.cim.schemas import CimValidationError
from integrations.tso_client import TsoClient, TsoUnavailableError
from integrations.tso_submissions import (
    UNANSWERED_ALERT,
    Submission,
    SubmissionConflictError,
    document_identity,
    pending_submissions,
    prepare_submission,
    submit,
)
from simulators.service import JsonService

DOCUMENTS = "/api/v1/documents"
START = datetime(2025, 2, 27, 10, tzinfo=UTC)
ATTEMPTS = 4
BACKOFF_S = 0.05
TIMEOUT_S = 0.4
_pools = itertools.count(1)


@pytest.fixture
def db(db_url: str) -> Iterator[str]:
    """The test database with none of this module's submissions and no unanswered alerts."""
    with psycopg.connect(db_url) as conn:
        conn.execute("delete from ops.tso_submissions where pool_id ~ '^POOL-[FP][0-9]+$'")
        conn.execute("delete from ops.alerts where alert_type = %s", (UNANSWERED_ALERT,))
    yield db_url


@pytest.fixture
def service(fault_free: JsonService) -> JsonService:
    """The module's TSO simulator, no fault armed, no request remembered."""
    return fault_free


@pytest.fixture
def tso(service: JsonService) -> TsoClient:
    """A client with short timeouts and backoff, so faults cost little time."""
    return TsoClient(
        base_url=service.url,
        timeout_s=TIMEOUT_S,
        document_attempts=ATTEMPTS,
        backoff_s=BACKOFF_S,
        backoff_max_s=0.2,
    )


def _record(url: str, outbox: Path, pool_id: str, level_mw: float = 1.0) -> Submission:
    """Record the pool's measurement document for the first 15 minutes (content by level)."""
    period = Period(START, START + timedelta(minutes=15))
    values = {START + timedelta(minutes=i): level_mw + i / 1000 for i in range(15)}
    created_at = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(url) as conn:
        submission = prepare_submission(
            conn,
            document_kind=KIND_POOL_MEASUREMENTS,
            pool_id=pool_id,
            period_start=period.start,
            period_end=period.end,
            build=lambda revision: pool_measurement_document(
                pool_id, period, values, created_at=created_at, revision=revision
            ),
            outbox_dir=outbox,
        )
        conn.commit()
    return submission


def _submit(url: str, tso: TsoClient, submission: Submission):
    with psycopg.connect(url) as conn:
        return submit(conn, tso, submission)


def _row(url: str, submission: Submission) -> dict:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select attempts, http_status, ack_status, last_error from ops.tso_submissions"
            " where document_mrid = %s and revision = %s",
            (submission.document_mrid, submission.revision),
        ).fetchone()
    return dict(zip(("attempts", "http_status", "ack_status", "last_error"), row, strict=True))


def _alerts(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select alert_key, entity_id, severity, message, details, closed_at from ops.alerts"
            " where alert_type = %s order by alert_id",
            (UNANSWERED_ALERT,),
        ).fetchall()


def _posts(service: JsonService, submission: Submission) -> list:
    return [
        seen
        for seen in service.faults.seen("POST", DOCUMENTS)
        if submission.document_mrid.encode() in seen.body
    ]


def contents_at_the_tso(service: JsonService) -> dict[tuple[str, int | None], set[str]]:
    """Per (mRID, revision) posted, the content digests the TSO received under it."""
    found: dict[tuple[str, int | None], set[str]] = defaultdict(set)
    for seen in service.faults.seen("POST", DOCUMENTS):
        try:
            _, mrid, revision, digest = document_identity(seen.body)
        except (CimValidationError, ValueError):
            continue
        found[(mrid, revision)].add(digest)
    return found


def contents_on_record(url: str) -> dict[tuple[str, int], set[str]]:
    """Per (mRID, revision) in ops.tso_submissions, the content digests recorded."""
    found: dict[tuple[str, int], set[str]] = defaultdict(set)
    with psycopg.connect(url) as conn:
        for mrid, revision, digest in conn.execute(
            "select document_mrid, revision, content_sha256 from ops.tso_submissions"
        ):
            found[(mrid, revision)].add(digest)
    return found


def _gaps(posts: list) -> list[float]:
    return [later.at - earlier.at for earlier, later in itertools.pairwise(posts)]


def test_two_500s_are_retried_with_backoff_and_the_third_post_is_accepted(
    db, tso, service, tmp_path
):
    submission = _record(db, tmp_path, f"POOL-F{next(_pools)}")
    service.faults.fail("POST", DOCUMENTS, status=500, times=2)
    answer = _submit(db, tso, submission)
    assert answer.accepted and answer.attempts == 3
    posts = _posts(service, submission)
    assert [p.fault for p in posts] == ["fail", "fail", None]
    first, second = _gaps(posts)
    assert first >= BACKOFF_S and second >= 2 * BACKOFF_S  # the wait doubles
    assert _row(db, submission) == {
        "attempts": 3,
        "http_status": 200,
        "ack_status": "accepted",
        "last_error": None,
    }
    assert _alerts(db) == []  # retries that end in an answer raise no alert


def test_an_answer_later_than_the_timeout_is_retried_and_the_tso_takes_it_once(
    db, tso, service, tmp_path, record_property
):
    submission = _record(db, tmp_path, f"POOL-F{next(_pools)}")
    service.faults.delay("POST", DOCUMENTS, seconds=TIMEOUT_S + 0.3, times=2)
    began = time.monotonic()
    answer = _submit(db, tso, submission)
    took = time.monotonic() - began
    assert answer.accepted and answer.attempts == 3
    assert took < 3 * TIMEOUT_S + 1.0  # two timeouts and their backoff, no hang
    record_property("two_timeouts_then_answered_s", round(took, 2))
    posts = _posts(service, submission)
    assert len(posts) == 3 and len({p.body for p in posts}) == 1  # the very same bytes
    # The TSO processed each of the three (the late answers too) and took the document once.
    listing = tso_listing(service, submission)
    assert [(d["status"], d["times_received"]) for d in listing] == [("accepted", 3)]


@pytest.mark.parametrize(
    "garbage",
    [
        b"<<<this is not XML",
        b'{"status": "ok"}',
        b"",
        b"<?xml version='1.0'?><Acknowledgement_MarketDocument/>",  # no namespace: unknown
    ],
    ids=["not-xml", "json", "empty", "no-schema"],
)
def test_a_garbage_answer_is_retried_never_taken_for_an_acknowledgement(
    db, tso, service, tmp_path, garbage
):
    submission = _record(db, tmp_path, f"POOL-F{next(_pools)}")
    service.faults.garbage("POST", DOCUMENTS, garbage, content_type="application/xml", times=2)
    answer = _submit(db, tso, submission)
    assert answer.accepted and answer.attempts == 3
    assert b"Acknowledgement_MarketDocument" in answer.xml and answer.xml != garbage
    assert _row(db, submission)["attempts"] == 3


def test_an_acknowledgement_of_another_document_is_not_taken_for_this_one(
    db, tso, service, tmp_path
):
    other = _record(db, tmp_path, f"POOL-F{next(_pools)}")
    other_ack = _submit(db, tso, other).xml
    submission = _record(db, tmp_path, f"POOL-F{next(_pools)}")
    service.faults.garbage("POST", DOCUMENTS, other_ack, content_type="application/xml")
    answer = _submit(db, tso, submission)
    assert answer.attempts == 2
    assert answer.acknowledgement.received.mrid == submission.document_mrid


def test_a_dropped_connection_is_retried(db, tso, service, tmp_path):
    submission = _record(db, tmp_path, f"POOL-F{next(_pools)}")
    service.faults.drop("POST", DOCUMENTS, times=2)
    answer = _submit(db, tso, submission)
    assert answer.accepted and answer.attempts == 3
    assert [p.fault for p in _posts(service, submission)] == ["drop", "drop", None]


def test_a_tso_down_for_every_attempt_alerts_and_the_resend_later_closes_the_alert(
    db, tso, service, tmp_path, record_property
):
    submission = _record(db, tmp_path, f"POOL-F{next(_pools)}")
    service.faults.fail("POST", DOCUMENTS, status=503, times=None)
    began = time.monotonic()
    with pytest.raises(TsoUnavailableError) as caught:
        _submit(db, tso, submission)
    failed_after = time.monotonic() - began
    message = str(caught.value)
    assert submission.document_mrid in message and f"after {ATTEMPTS} attempts" in message
    assert "HTTP 503" in message
    assert caught.value.attempts == ATTEMPTS == len(_posts(service, submission))
    # backoff 0.05 + 0.1 + 0.2 s between the four posts
    assert 0.35 <= failed_after < 2.0
    record_property("four_503s_then_unavailable_s", round(failed_after, 2))
    row = _row(db, submission)
    assert row["attempts"] == ATTEMPTS and row["ack_status"] is None
    assert "HTTP 503" in row["last_error"]
    [(key, entity, severity, alert_message, details, closed_at)] = _alerts(db)
    assert key == f"{UNANSWERED_ALERT}:{submission.document_mrid}:{submission.revision}"
    assert entity == submission.document_mrid and severity == "error" and closed_at is None
    assert details["attempts"] == ATTEMPTS and details["kind"] == KIND_POOL_MEASUREMENTS
    assert "did not acknowledge" in alert_message
    # A second failed run updates the same alert with the attempts so far.
    with pytest.raises(TsoUnavailableError):
        _submit(db, tso, submission)
    [alert] = _alerts(db)
    assert alert[4]["attempts"] == 2 * ATTEMPTS and alert[5] is None

    service.faults.clear()  # the TSO is back
    with psycopg.connect(db) as conn:
        [pending] = pending_submissions(conn)
    assert (pending.document_mrid, pending.revision) == (
        submission.document_mrid,
        submission.revision,
    )
    answer = _submit(db, tso, pending)
    assert answer.accepted
    assert _row(db, submission)["attempts"] == 2 * ATTEMPTS + 1
    [alert] = _alerts(db)
    assert alert[5] is not None and alert[4]["resolution"] == "acknowledged"


def test_changed_content_after_a_failed_post_goes_out_as_the_next_revision(
    db, tso, service, tmp_path
):
    pool = f"POOL-F{next(_pools)}"
    first = _record(db, tmp_path, pool, level_mw=1.0)
    service.faults.fail("POST", DOCUMENTS, status=502, times=None)
    with pytest.raises(TsoUnavailableError):
        _submit(db, tso, first)
    service.faults.clear()
    changed = _record(db, tmp_path, pool, level_mw=2.0)  # late readings changed the hour
    assert changed.document_mrid == first.document_mrid and changed.revision == 2
    with psycopg.connect(db) as conn:
        pending = pending_submissions(conn)
    assert [s.revision for s in pending] == [1, 2]
    for submission in pending:
        assert _submit(db, tso, submission).accepted
    assert all(len(d) == 1 for d in contents_at_the_tso(service).values())
    assert all(len(d) == 1 for d in contents_on_record(db).values())


def test_an_outbox_file_rewritten_with_other_content_is_never_posted(db, tso, service, tmp_path):
    pool = f"POOL-F{next(_pools)}"
    submission = _record(db, tmp_path, pool, level_mw=1.0)
    other = pool_measurement_document(
        pool,
        Period(START, START + timedelta(minutes=15)),
        {START: 9.0},
        created_at=START,
    )
    submission.outbox_path.write_bytes(other)  # e.g. a crashed run of other code
    with pytest.raises(SubmissionConflictError, match="other content"):
        _submit(db, tso, submission)
    assert service.faults.seen("POST", DOCUMENTS) == []


FAULTS = st.sampled_from(["fail", "garbage", "drop", "ok"])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    plan=st.lists(
        st.tuples(st.lists(FAULTS, max_size=ATTEMPTS + 1), st.booleans()), min_size=1, max_size=4
    )
)
def test_whatever_the_tso_does_one_mrid_revision_never_carries_two_contents(
    db, tso, service, tmp_path, plan
):
    """Each step arms a run of faults and sends the pool's document, changed or not; the
    attempts on record equal the posts the TSO saw, and each revision has one content."""
    pool = f"POOL-P{next(_pools)}"
    level = 1.0
    for faults, change in plan:
        for kind in faults:
            if kind == "fail":
                service.faults.fail("POST", DOCUMENTS, status=500)
            elif kind == "garbage":
                service.faults.garbage("POST", DOCUMENTS, b"<oops", content_type="text/xml")
            elif kind == "drop":
                service.faults.drop("POST", DOCUMENTS)
            else:
                break  # the TSO answers from here on
        level += 1.0 if change else 0.0
        _record(db, tmp_path, pool, level_mw=level)
        with psycopg.connect(db) as conn:
            pending = pending_submissions(conn)
        for submission in pending:
            with contextlib.suppress(TsoUnavailableError):
                _submit(db, tso, submission)
        service.faults.disarm()
    at_tso = contents_at_the_tso(service)
    on_record = contents_on_record(db)
    assert all(len(digests) == 1 for digests in at_tso.values())
    assert all(len(digests) == 1 for digests in on_record.values())
    for key, digests in at_tso.items():
        assert on_record[key] == digests  # what was sent is what was recorded
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "select document_mrid, revision, attempts from ops.tso_submissions where pool_id = %s",
            (pool,),
        ).fetchall()
    posts = defaultdict(int)
    for seen in service.faults.seen("POST", DOCUMENTS):
        _, mrid, revision, _ = document_identity(seen.body)
        posts[(mrid, revision)] += 1
    assert {(mrid, revision): attempts for mrid, revision, attempts in rows} == {
        key: count for key, count in posts.items() if key[0] in {r[0] for r in rows}
    }


def tso_listing(service: JsonService, submission: Submission) -> list[dict]:
    """What the TSO simulator says it received under the submission's mRID."""
    import requests

    documents = requests.get(f"{service.url}{DOCUMENTS}", timeout=5).json()["documents"]
    return [d for d in documents if d["mrid"] == submission.document_mrid]
