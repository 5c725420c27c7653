"""Bids for real: the sample registry, the simulator's device states, ladders, ReserveBid
documents to the TSO simulator, ``raw.bids`` and ``marts.fct_bids``.

The platform's clock and the TSO simulator's clock are set to a replayed instant, as the demo
does, so gates are judged as they would have been on 2025-02-27.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import dagster as dg
import psycopg
import pytest
from sample_platform import build_sample_registry

pytestmark = pytest.mark.slow

HOUR = "2025-02-27-10:00"
TEN = datetime(2025, 2, 27, 10, tzinfo=UTC)
ELEVEN = TEN + timedelta(hours=1)
TICK = TEN - timedelta(minutes=90)  # when pool_flex_schedule runs for this hour
TSO_BIDS = dg.AssetKey(["outbox", "tso_bids"])
MART_KEYS = [
    dg.AssetKey(["staging", "stg_bidding__bids"]),
    dg.AssetKey(["staging", "stg_bidding__tso_submissions"]),
    dg.AssetKey(["marts", "fct_bids"]),
]


def _query(url: str, sql: str, params: tuple | dict = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _resources(now: datetime) -> dict:
    from integrations.clock import PlatformClock
    from orchestration.resources import build_resources

    return {**build_resources(), "clock": PlatformClock(fixed_now=now.isoformat())}


def _materialize(assets: list, now: datetime, tso_clock, partition: str = HOUR):
    tso_clock.set(now)
    try:
        result = dg.materialize(
            assets,
            partition_key=partition,
            resources=_resources(now),
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    finally:
        tso_clock.set(None)
    return result


def _bids(now: datetime, tso_clock, partition: str = HOUR) -> dict:
    from assets.bidding.bids import tso_bids

    result = _materialize([tso_bids], now, tso_clock, partition)
    assert result.success
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == TSO_BIDS]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def _build_marts() -> None:
    from assets.dbt_models import dbt_models
    from orchestration.resources import build_resources

    result = dg.materialize(
        [dbt_models],
        selection=dg.AssetSelection.assets(*MART_KEYS),
        resources=build_resources(),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success


def _fct_bids(url: str) -> list[dict]:
    columns = (
        "bid_mrid, document_mrid, revision, pool_id, market, isp_start, direction, step,"
        " quantity_mw, price_eur_mwh, status, submitted_at, acknowledged_at, reason"
    )
    rows = _query(url, f"select {columns} from marts.fct_bids order by bid_mrid, revision")
    names = [c.strip() for c in columns.split(",")]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _latest_computation(url: str, pool_id: str, isp: datetime) -> datetime:
    [(computed_at,)] = _query(
        url,
        "select max(computed_at) from raw.pool_flex_isp where pool_id = %s and isp_start = %s",
        (pool_id, isp),
    )
    return computed_at


def _new_computation(url: str, changes: dict[tuple[str, datetime], Decimal]) -> None:
    """A later flexibility computation where each (pool, ISP) offers ``MW`` up at its cheapest
    strike level and nothing down; every other pool and ISP is copied unchanged."""
    computed_at = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        for (pool_id, isp), mw in changes.items():
            before = _latest_computation(url, pool_id, isp)
            conn.execute(
                "insert into raw.pool_flex_isp (pool_id, isp_start, up_mw, down_mw, method,"
                " states_at, computed_at) select pool_id, isp_start, %s, 0, method, states_at,"
                " %s from raw.pool_flex_isp where pool_id = %s and isp_start = %s"
                " and computed_at = %s",
                (mw, computed_at, pool_id, isp, before),
            )
            if mw > 0:
                conn.execute(
                    "insert into raw.pool_flex_ladder select pool_id, isp_start, direction,"
                    " strike_price_eur_mwh, %s, %s from raw.pool_flex_ladder"
                    " where pool_id = %s and isp_start = %s and computed_at = %s"
                    " and direction = 'up' order by strike_price_eur_mwh limit 1",
                    (mw, computed_at, pool_id, isp, before),
                )


@pytest.fixture(scope="module")
def platform(db_url, simulators, tso_clock, tmp_path_factory) -> str:
    """The sample registry, the flexibility of 10:00-11:00 UTC computed at the schedule's tick,
    and the bids sent at that tick."""
    from assets.bidding.flexibility import pool_flex_isp

    _, result = build_sample_registry(db_url, tmp_path_factory.mktemp("landing"))
    assert result.success
    with psycopg.connect(db_url) as conn:
        conn.execute("truncate raw.pool_flex_isp, raw.pool_flex_ladder, raw.bids")
        conn.execute("delete from ops.tso_submissions where document_kind = 'reserve_bid'")
    assert _materialize([pool_flex_isp], TICK, tso_clock).success
    return db_url


@pytest.fixture(scope="module")
def first_bids(platform, tso_clock) -> dict:
    metadata = _bids(TICK, tso_clock)
    _build_marts()
    return metadata


def test_every_pool_bids_and_the_tso_accepts_every_document(platform, first_bids):
    bids = _fct_bids(platform)
    pools = {row[0] for row in _query(platform, "select pool_id from marts.dim_pools")}
    assert {b["pool_id"] for b in bids} == pools  # each pool has >= 1 MW somewhere
    assert {b["status"] for b in bids} == {"accepted"}
    assert all(b["acknowledged_at"] is not None for b in bids)
    assert first_bids["bids_too_late"] == 0
    assert first_bids["documents_accepted"] == first_bids["documents_recorded"] > 0
    documents = {b["document_mrid"] for b in bids}
    assert len(documents) == first_bids["documents_recorded"]
    ladders = {k: v for k, v in first_bids.items() if k.startswith("bid_ladder_")}
    assert set(ladders) == {f"bid_ladder_{pool}" for pool in pools}
    for table in ladders.values():  # a row per gate (the window's 4 ISPs) and direction
        assert table.startswith("| gate closes | ISP (Amsterdam) |")
        assert len(table.splitlines()) - 2 >= 4


def test_bids_follow_the_rules(platform, first_bids):
    from domain.bidding.gate import gate_closure
    from domain.bidding.markets import market_rules

    by_key: dict[tuple, list[dict]] = {}
    for bid in _fct_bids(platform):
        rules = market_rules(bid["market"])
        assert rules.min_quantity_mw <= bid["quantity_mw"] <= rules.max_quantity_mw
        assert bid["price_eur_mwh"] == bid["price_eur_mwh"].quantize(Decimal("0.01"))
        assert TEN <= bid["isp_start"] < ELEVEN
        assert bid["revision"] == 1
        assert gate_closure(bid["isp_start"], bid["market"]) > TICK
        by_key.setdefault((bid["pool_id"], bid["isp_start"], bid["direction"]), []).append(bid)
    for ladder in by_key.values():
        ladder.sort(key=lambda b: b["step"])
        prices = [b["price_eur_mwh"] for b in ladder]
        assert prices == sorted(prices) and len(set(prices)) == len(prices)  # steps merge


def test_no_bid_is_priced_below_a_strike_of_the_devices_it_may_hold(platform, first_bids):
    """Step 1 of a ladder holds the cheapest MW: at least the pool's cheapest strike."""
    cheapest = dict(
        _query(
            platform,
            "select m.pool_id, min(coalesce(d.strike_price_eur_mwh, 0))"
            " from marts.fct_device_pool_membership m join marts.dim_devices d using (device_id)"
            " where m.valid_from <= %(t)s and (m.valid_to is null or m.valid_to > %(t)s)"
            " group by m.pool_id",
            {"t": TEN},
        )
    )
    for bid in _fct_bids(platform):
        assert bid["price_eur_mwh"] >= max(Decimal(0), cheapest[bid["pool_id"]]), bid


def test_every_document_in_the_outbox_is_xsd_valid_and_names_tennet_and_nl(platform, first_bids):
    from lxml import etree

    from integrations.cim.schemas import parse_document, validate_root

    paths = [
        row[0]
        for row in _query(
            platform,
            "select outbox_path from ops.tso_submissions where document_kind = 'reserve_bid'",
        )
    ]
    assert paths
    for path in paths:
        with open(path, "rb") as handle:
            kind, root = parse_document(handle.read())
        validate_root(root, kind)  # raises when not valid
        text = etree.tostring(root).decode()
        assert "10X1001A1001A361" in text and "10YNL----------L" in text


def test_a_rerun_with_nothing_changed_sends_nothing(platform, first_bids, tso_clock):
    before = _query(platform, "select count(*) from ops.tso_submissions")
    metadata = _bids(TICK + timedelta(minutes=5), tso_clock)
    assert metadata["documents_recorded"] == 0 and metadata["bids_sent"] == 0
    assert _query(platform, "select count(*) from ops.tso_submissions") == before


def test_a_change_goes_out_as_the_next_revision_and_a_lost_bid_is_cancelled(
    platform, first_bids, tso_clock
):
    bids = [b for b in _fct_bids(platform) if b["isp_start"] == TEN + timedelta(minutes=45)]
    pool = sorted({b["pool_id"] for b in bids if b["direction"] == "up"})[0]
    isp = TEN + timedelta(minutes=45)
    _new_computation(platform, {(pool, isp): Decimal("1.000")})
    metadata = _bids(TICK + timedelta(minutes=10), tso_clock)
    assert metadata["documents_recorded"] == 1 and metadata["documents_accepted"] == 1
    after = [b for b in _fct_bids(platform) if b["pool_id"] == pool and b["isp_start"] == isp]
    second = [b for b in after if b["revision"] == 2]
    assert second and {b["status"] for b in second} == {"accepted"}
    assert len({b["document_mrid"] for b in after}) == 2  # a new mRID for the new revision
    down = [b for b in second if b["direction"] == "down"]
    assert all(b["quantity_mw"] == 0 for b in down)  # nothing down any more: cancelled
    [step1] = [b for b in second if b["direction"] == "up" and b["step"] == 1]
    assert step1["quantity_mw"] == 1


def test_a_late_run_skips_the_closed_gate_and_raises_an_alert(platform, first_bids, tso_clock):
    first, last = TEN, TEN + timedelta(minutes=45)
    pools = sorted({b["pool_id"] for b in _fct_bids(platform) if b["market"] == "afrr"})
    _new_computation(platform, {(pools[0], first): Decimal("1.000"), (pools[0], last): Decimal(0)})
    late = TEN - timedelta(minutes=20)  # the 10:00 gate closed at 09:35, 10:45's is open
    metadata = _bids(late, tso_clock)
    assert metadata["bids_too_late"] >= 1 and metadata["gates_missed"] == 1
    assert metadata["documents_accepted"] == 1
    alerts = _query(
        platform,
        "select entity_id, details->>'gate' from ops.alerts where alert_type = 'bid_gate_closed'",
    )
    assert (pools[0], (TEN - timedelta(minutes=25)).isoformat()) in alerts
    sent_late = _query(
        platform,
        "select count(*) from raw.bids where pool_id = %s and isp_start = %s and planned_at = %s",
        (pools[0], first, late),
    )
    assert sent_late == [(0,)]


def test_a_rejected_document_shows_in_fct_bids_with_its_reason_and_an_alert(
    platform, first_bids, tso_clock
):
    from assets.bidding.bids import tso_bids

    pools = sorted({b["pool_id"] for b in _fct_bids(platform) if b["market"] == "mfrr"})
    isp = TEN + timedelta(minutes=30)
    _new_computation(platform, {(pools[0], isp): Decimal("3.000")})
    # The platform believes it is on time; the TSO's clock is past the gate: rejected (A57).
    platform_now = TEN - timedelta(minutes=10)
    tso_clock.set(isp)
    try:
        result = dg.materialize(
            [tso_bids],
            partition_key=HOUR,
            resources=_resources(platform_now),
            instance=dg.DagsterInstance.ephemeral(),
        )
    finally:
        tso_clock.set(None)
    assert result.success
    rejected = [b for b in _fct_bids(platform) if b["status"] == "rejected"]
    assert rejected and {b["pool_id"] for b in rejected} == {pools[0]}
    assert all("A57" in b["reason"] or "gate closed" in b["reason"] for b in rejected)
    alerts = _query(
        platform,
        "select count(*) from ops.alerts where alert_type = 'tso_document_rejected'"
        " and details->>'kind' = 'reserve_bid'",
    )
    assert alerts[0][0] >= 1


def test_the_repeated_hour_of_a_dst_day_bids_in_utc(platform, tso_clock):
    """2025-10-26 01:00-02:00 UTC is the second 02:00-03:00 local: gates at 00:35 UTC..."""
    from assets.bidding.flexibility import pool_flex_isp

    partition = "2025-10-26-01:00"
    tick = datetime(2025, 10, 25, 23, 30, tzinfo=UTC)
    assert _materialize([pool_flex_isp], tick, tso_clock, partition).success
    metadata = _bids(tick, tso_clock, partition)
    assert metadata["documents_accepted"] == metadata["documents_recorded"] > 0
    rows = _query(
        platform,
        "select distinct isp_start, gate_closes_at, market from raw.bids"
        " where isp_start >= '2025-10-26T01:00Z' and isp_start < '2025-10-26T02:00Z'",
    )
    from domain.bidding.markets import market_rules

    for isp_start, gate, market in rows:
        assert gate == isp_start - market_rules(market).gate_closure_lead
    assert {r[0] for r in rows} <= {
        datetime(2025, 10, 26, 1, m, tzinfo=UTC) for m in (0, 15, 30, 45)
    }
