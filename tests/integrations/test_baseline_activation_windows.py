"""The activation windows the baselines freeze on: the whole time an activation ran."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from integrations.baselines.store import activation_windows

T = datetime(2025, 2, 27, 15, 15, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _insert(conn, activation_id, revision, mw, start, end):
    conn.execute(
        "insert into raw.tso_activations (activation_id, revision, pool_id, market, direction,"
        " requested_mw, valid_from, valid_to) values (%s, %s, 'POOL-W', 'afrr', 'up', %s, %s, %s)",
        (activation_id, revision, mw, start, end),
    )


def test_a_revised_activation_runs_from_its_first_revision_and_a_zero_revision_ends_it(clean_db):
    with psycopg.connect(clean_db) as conn:
        conn.execute("delete from raw.tso_activations where pool_id = 'POOL-W'")
        # revised twice, each revision starting later: the window starts at the first one
        _insert(conn, "ACT-W1", 1, "0.241", T, T + 15 * MIN)
        _insert(conn, "ACT-W1", 2, "0.451", T + 5 * MIN, T + 15 * MIN)
        _insert(conn, "ACT-W1", 3, "0.893", T + 10 * MIN, T + 15 * MIN)
        # ended by a 0 MW revision at +25 min: it ran until then
        _insert(conn, "ACT-W2", 1, "0.500", T + 20 * MIN, T + 35 * MIN)
        _insert(conn, "ACT-W2", 2, "0", T + 25 * MIN, T + 35 * MIN)
        # ended before it started: never ran
        _insert(conn, "ACT-W3", 1, "0.500", T + 40 * MIN, T + 55 * MIN)
        _insert(conn, "ACT-W3", 2, "0", T + 40 * MIN, T + 55 * MIN)
        windows = activation_windows(conn, T - 60 * MIN, T + 60 * MIN)
        # only what overlaps the asked range
        later = activation_windows(conn, T + 16 * MIN, T + 60 * MIN)
        conn.rollback()
    got = {(w.activation_id, w.start, w.end) for w in windows}
    assert got == {
        ("ACT-W1", T, T + 15 * MIN),
        ("ACT-W2", T + 20 * MIN, T + 25 * MIN),
    }
    assert [w.activation_id for w in later] == ["ACT-W2"]
