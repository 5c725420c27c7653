"""Available flexibility per pool and ISP, from the device states read at each ISP's gate."""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from integrations.clock import PlatformClock
from integrations.database.resource import PostgresResource
from integrations.device_cloud_client import DeviceCloudClient
from orchestration.partitions import bidding_hourly_partitions

POOL_FLEX = dg.AssetKey(["raw", "pool_flex_isp"])
REGISTRY_MARTS = [
    dg.AssetKey(["marts", "fct_device_pool_membership"]),
    dg.AssetKey(["marts", "dim_devices"]),
    dg.AssetKey(["marts", "site_market_status"]),
]
#: ``method`` of a pool and ISP without a single device that could be evaluated (all not
#: controllable or unavailable): 0 MW, and no safety margin was computed.
NO_DEVICES_METHOD = "no_devices"


def _by_device(pages: Any) -> dict[str, dict[str, Any]]:
    """The device cloud's state pages as one dictionary by device_id."""
    return {item["device_id"]: item for page in pages for item in page}


@dg.asset(
    key=POOL_FLEX,
    group_name="bidding",
    partitions_def=bidding_hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=REGISTRY_MARTS,
    kinds={"python", "postgres", "api"},
    owners=["team:data-platform"],
)
def pool_flex_isp(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    device_cloud: DeviceCloudClient,
    clock: PlatformClock,
) -> dg.MaterializeResult:
    """Each pool's safe upward and downward MW for every ISP of the window.

    Per ISP: the members valid at its start, their states from the device cloud as late as
    is known: at the ISP's gate (ISP start − the market's gate closure lead,
    ``domain.bidding.gate``) or now (``clock``), whichever is earlier, each device's flex held
    for the whole ISP, and the pool's 10 % quantile under device availability, per strike
    level (``domain.flexibility.pool_flex_ladders``; docs/bidding.md). Devices of sites
    excluded by the site-exclusivity rule, non-controllable devices and devices without a
    usable state contribute nothing. Every run adds a computation (``computed_at``): totals to
    ``raw.pool_flex_isp`` (the mart ``marts.fct_pool_flex_isp`` shows the latest), the ladder
    the bids are priced from to ``raw.pool_flex_ladder``.
    """
    import pandas as pd

    from domain.bidding.gate import gate_closure
    from domain.flexibility.pool import device_flex_frame, pool_flex_ladders, pool_flex_totals
    from domain.isp import isps_between
    from integrations.flexibility.pool_devices import member_devices
    from integrations.flexibility.store import (
        insert_pool_flex,
        insert_pool_flex_ladder,
        pool_members,
        site_exclusions,
    )

    window = context.partition_time_window
    computed_at = datetime.now(UTC)
    now = clock.now()
    states: dict[datetime, dict[str, dict[str, Any]]] = {}
    frames: list[pd.DataFrame] = []
    grid: list[tuple[str, datetime, datetime]] = []  # every (pool, ISP) with members
    unavailable: dict[str, str] = {}
    not_controllable: set[str] = set()
    with postgres.connect() as conn:
        exclusions = site_exclusions(conn, window.start, window.end)
        for isp in isps_between(window.start, window.end):
            members = pool_members(conn, isp.start)
            for market in sorted({m.market for m in members}):
                at = min(gate_closure(isp.start, market), now)
                if at not in states:
                    states[at] = _by_device(device_cloud.device_states(at))
                in_market = [m for m in members if m.market == market]
                sorted_members = member_devices(in_market, states[at], exclusions)
                frames.append(device_flex_frame(sorted_members.devices, [isp]))
                grid += [(pool, isp.start, at) for pool in sorted({m.pool_id for m in in_market})]
                not_controllable |= {m.device_id for m in sorted_members.not_controllable}
                unavailable |= {m.device_id: why for m, why in sorted_members.unavailable.items()}
        device_flex = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        ladders = pool_flex_ladders(device_flex) if len(device_flex) else pd.DataFrame()
        flex = pool_flex_totals(ladders) if len(ladders) else pd.DataFrame()
        rows = pd.DataFrame(grid, columns=["pool_id", "isp_start", "states_at"])
        rows["isp_start"] = pd.to_datetime(rows["isp_start"], utc=True)
        if len(flex):
            flex["isp_start"] = pd.to_datetime(flex["isp_start"], utc=True).astype(
                rows["isp_start"].dtype
            )
            rows = rows.merge(flex, on=["pool_id", "isp_start"], how="left")
        else:
            rows = rows.assign(up_mw=float("nan"), down_mw=float("nan"), method=None)
        rows = rows.fillna({"up_mw": 0.0, "down_mw": 0.0, "method": NO_DEVICES_METHOD})
        written = insert_pool_flex(conn, rows, computed_at, context.run_id)
        levels = insert_pool_flex_ladder(conn, ladders, computed_at) if len(ladders) else 0

    excluded = (
        sorted(set(device_flex.loc[device_flex["excluded"].astype(bool), "device_id"]))
        if len(device_flex)
        else []
    )
    for device_id, why in sorted(unavailable.items())[:20]:
        context.log.warning("device %s offers nothing: %s", device_id, why)
    per_pool = (
        rows.groupby("pool_id")
        .agg(
            isps=("isp_start", "nunique"),
            mean_up_mw=("up_mw", "mean"),
            min_up_mw=("up_mw", "min"),
            mean_down_mw=("down_mw", "mean"),
            min_down_mw=("down_mw", "min"),
            method=("method", lambda m: ", ".join(sorted(set(m)))),
        )
        .reset_index()
        .round(3)
        if len(rows)
        else pd.DataFrame()
    )
    context.log.info(
        "%d pool-ISP rows computed at %s; %d devices excluded, %d unavailable",
        written,
        computed_at.isoformat(),
        len(excluded),
        len(unavailable),
    )
    return dg.MaterializeResult(
        metadata={
            "rows_written": dg.MetadataValue.int(written),
            "ladder_levels_written": dg.MetadataValue.int(levels),
            "computed_at": dg.MetadataValue.text(computed_at.isoformat()),
            "pools": dg.MetadataValue.int(int(rows["pool_id"].nunique()) if len(rows) else 0),
            "state_instants": dg.MetadataValue.int(len(states)),
            "devices_excluded": dg.MetadataValue.int(len(excluded)),
            "devices_unavailable": dg.MetadataValue.int(len(unavailable)),
            "devices_not_controllable": dg.MetadataValue.int(len(not_controllable)),
            "flex_per_pool": dg.MetadataValue.md(per_pool.to_markdown(index=False))
            if len(per_pool)
            else dg.MetadataValue.text("no pool members in the window"),
        }
    )
