"""Pool flexibility for real: the sample registry, the device-cloud simulator's states at each
ISP's gate, ``raw.pool_flex_isp`` and the mart ``marts.fct_pool_flex_isp``.

The module builds the sample registry (two sites are excluded by the exclusivity rule on
2025-02-27) and materialises the asset for 10:00-11:00 UTC of 2025-02-27, twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import psycopg
import pytest
from sample_platform import build_sample_registry

pytestmark = pytest.mark.slow

HOUR = "2025-02-27-10:00"
TEN = datetime(2025, 2, 27, 10, tzinfo=UTC)
ELEVEN = datetime(2025, 2, 27, 11, tzinfo=UTC)
ISP_STARTS = [TEN + timedelta(minutes=15 * n) for n in range(4)]
POOL_FLEX = dg.AssetKey(["raw", "pool_flex_isp"])
MART_KEYS = [
    dg.AssetKey(["staging", "stg_bidding__pool_flex_isp"]),
    dg.AssetKey(["marts", "fct_pool_flex_isp"]),
]


def _query(url: str, sql: str, params: tuple | dict = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _materialize_flex() -> dg.MaterializeResult:
    from assets.bidding.flexibility import pool_flex_isp
    from orchestration.resources import build_resources

    result = dg.materialize(
        [pool_flex_isp],
        partition_key=HOUR,
        resources=build_resources(),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return result


def _build_mart() -> None:
    from assets.dbt_models import dbt_models
    from orchestration.resources import build_resources

    result = dg.materialize(
        [dbt_models],
        selection=dg.AssetSelection.assets(*MART_KEYS),
        resources=build_resources(),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == POOL_FLEX]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def _flex(url: str, computed_at: datetime | None = None) -> dict[tuple[str, datetime], tuple]:
    """(pool, ISP) -> (up_mw, down_mw, method, states_at) of one computation (default: first)."""
    rows = _query(
        url,
        "select pool_id, isp_start, up_mw, down_mw, method, states_at from raw.pool_flex_isp"
        " where computed_at = coalesce(%s, (select min(computed_at) from raw.pool_flex_isp))",
        (computed_at,),
    )
    return {(r[0], r[1]): (float(r[2]), float(r[3]), r[4], r[5]) for r in rows}


@pytest.fixture(scope="module")
def registry(db_url, simulators, tmp_path_factory) -> str:
    """The sample registry built; no flexibility computed yet."""
    _, result = build_sample_registry(db_url, tmp_path_factory.mktemp("landing"))
    assert result.success
    with psycopg.connect(db_url) as conn:
        conn.execute("truncate raw.pool_flex_isp")
    return db_url


@pytest.fixture(scope="module")
def first_run(registry) -> dg.ExecuteInProcessResult:
    """The asset materialised once for 10:00 UTC, and the mart built."""
    result = _materialize_flex()
    _build_mart()
    return result


def _members(url: str) -> dict[tuple[str, datetime], list[tuple]]:
    """(pool, ISP start) -> [(device_id, site_id, rated kW, controllable, type, market)]."""
    out: dict[tuple[str, datetime], list[tuple]] = defaultdict(list)
    for start in ISP_STARTS:
        rows = _query(
            url,
            "select m.pool_id, m.device_id, d.site_id, d.rated_power_kw, d.controllable,"
            " d.device_type, m.market from marts.fct_device_pool_membership m"
            " join marts.dim_devices d using (device_id) where m.valid_from <= %(t)s"
            " and (m.valid_to is null or m.valid_to > %(t)s)",
            {"t": start},
        )
        for pool, *member in rows:
            out[(pool, start)].append(tuple(member))
    return out


def test_every_pool_gets_four_isps_with_flex_never_negative(registry, first_run):
    flex = _flex(registry)
    pools = {pool for pool, _ in _members(registry)}
    assert len(pools) >= 9
    assert set(flex) == {(pool, start) for pool in pools for start in ISP_STARTS}
    for up, down, method, _states_at in flex.values():
        assert up >= 0 and down >= 0
        assert method == "monte_carlo_q10"
    assert any(up > 0 for up, *_ in flex.values())
    assert any(down > 0 for _, down, *_ in flex.values())
    assert _metadata(first_run)["rows_written"] == len(flex)


def test_states_are_read_at_the_gate_of_each_pools_market(registry, first_run):
    from domain.bidding.markets import market_rules

    markets = dict(_query(registry, "select pool_id, market from marts.dim_pools"))
    for (pool, start), (*_, states_at) in _flex(registry).items():
        assert states_at == start - market_rules(markets[pool]).gate_closure_lead


def test_a_pool_never_offers_more_than_its_controllable_members_rated_power(registry, first_run):
    members = _members(registry)
    for key, (up, down, *_) in _flex(registry).items():
        rated_mw = sum(float(m[2]) for m in members[key] if m[3] and m[4] != "other") / 1000
        assert up <= rated_mw + 1e-9, key
        assert down <= rated_mw + 1e-9, key


def _recompute(url: str, drop_sites: set[str], use_exclusions: bool) -> dict:
    """The domain's pool flex from the simulator's states, computed here without the asset."""
    from domain.bidding.gate import gate_closure
    from domain.flexibility.pool import device_flex_frame, pool_flex
    from domain.isp import isp_of
    from integrations.device_cloud_client import DeviceCloudClient
    from integrations.flexibility.pool_devices import member_devices
    from integrations.flexibility.store import pool_members, site_exclusions
    from orchestration.resources import build_resources

    cloud: DeviceCloudClient = build_resources()["device_cloud"]
    frames = []
    with psycopg.connect(url) as conn:
        exclusions = site_exclusions(conn, TEN, ELEVEN) if use_exclusions else {}
        for start in ISP_STARTS:
            members = [m for m in pool_members(conn, start) if m.site_id not in drop_sites]
            for market in {m.market for m in members}:
                at = gate_closure(start, market)
                items = {i["device_id"]: i for page in cloud.device_states(at) for i in page}
                in_market = [m for m in members if m.market == market]
                chosen = member_devices(in_market, items, exclusions)
                frames.append(device_flex_frame(chosen.devices, [isp_of(start)]))
    flex = pool_flex(pd.concat(frames, ignore_index=True))
    return {
        (r.pool_id, pd.Timestamp(r.isp_start).to_pydatetime()): (
            round(r.up_mw, 3),
            round(r.down_mw, 3),
        )
        for r in flex.itertuples()
    }


def test_an_excluded_sites_devices_contribute_nothing(registry, first_run):
    excluded_sites = {
        row[0]
        for row in _query(
            registry,
            "select site_id from marts.site_market_status where excluded_from_disaggregation"
            " and valid_from < %s and (valid_to is null or valid_to > %s)",
            (ELEVEN, TEN),
        )
    }
    assert excluded_sites  # the sample has sites on two markets on that day
    members = _members(registry)
    excluded_devices = {
        m[0]
        for ms in members.values()
        for m in ms
        if m[1] in excluded_sites and m[3] and m[4] != "other"
    }
    assert _metadata(first_run)["devices_excluded"] == len(excluded_devices) > 0

    stored = {key: (up, down) for key, (up, down, *_) in _flex(registry).items()}
    without_sites = _recompute(registry, excluded_sites, use_exclusions=False)
    assert without_sites == stored  # the same as if they were not there at all
    ignoring_rule = _recompute(registry, set(), use_exclusions=False)
    affected = {key for key, ms in members.items() if any(m[1] in excluded_sites for m in ms)}
    for key in affected:
        assert ignoring_rule[key][0] >= stored[key][0] and ignoring_rule[key][1] >= stored[key][1]
    assert any(ignoring_rule[key] != stored[key] for key in affected)  # they did have flex


def test_running_again_adds_a_computation_and_the_mart_shows_the_latest(registry, first_run):
    first = _flex(registry)
    _materialize_flex()
    computations = _query(registry, "select distinct computed_at from raw.pool_flex_isp order by 1")
    assert len(computations) == 2
    latest = computations[-1][0]
    assert len(_flex(registry, latest)) == len(first)
    mart = _query(
        registry,
        "select pool_id, isp_start, up_mw, down_mw, method, computed_at"
        " from marts.fct_pool_flex_isp",
    )
    assert len(mart) == len(first)
    assert {row[5] for row in mart} == {latest}
    for pool, start, up, down, method, _ in mart:  # same states, seeded margin: same numbers
        assert (float(up), float(down), method) == first[(pool, start)][:3]
