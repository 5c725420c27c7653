"""A rerun's answer to an activation: the recorded revision when equal, the next when changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from domain.cim.activation import ActivatedBid, Activation
from domain.cim.activation_response import activation_response, build_activation_response_document
from integrations.dispatch.run import answer_document
from integrations.tso_submissions import document_identity, record_document

START = datetime(2025, 2, 27, 14, tzinfo=UTC)


def _activation() -> Activation:
    return Activation(
        mrid="ANSWER-REVISIONS-1",
        revision=1,
        created_at=START - timedelta(minutes=1),
        pool_id="POOL-AFRR-1",
        market="afrr",
        direction="up",
        valid_from=START,
        valid_to=START + timedelta(minutes=15),
        bids=(ActivatedBid("B-ANSWER-1", Decimal("1.000")),),
    )


def _answer(mw: str, created: datetime):
    reason = None if mw == "1.000" else "the pool could not hold it all"
    return activation_response(
        _activation(), created_at=created, activated_mw=Decimal(mw), reason_text=reason
    )


def test_a_changed_answer_after_an_unanswered_one_is_the_next_revision(clean_db, tmp_path):
    with psycopg.connect(clean_db) as conn:
        conn.execute("delete from ops.tso_submissions where document_kind = 'test_answer'")
        first = build_activation_response_document(_answer("1.000", START))
        record_document(
            conn,
            first,
            document_kind="test_answer",
            pool_id="POOL-AFRR-1",
            period_start=START,
            period_end=START + timedelta(minutes=15),
            outbox_dir=tmp_path,
        )
        # the same answer built later: the recorded revision, re-sent as it was
        same = answer_document(conn, _answer("1.000", START + timedelta(minutes=2)))
        assert document_identity(same)[2] == 1
        # another answer (a rerun planned less): revision 2 of the same mRID
        changed = answer_document(conn, _answer("0.600", START + timedelta(minutes=2)))
        _, mrid, revision, _ = document_identity(changed)
        assert (mrid, revision) == (document_identity(first)[1], 2)
        conn.rollback()
