"""Dispatch: one run per activation revision, launched by ``tso_activation_sensor``."""

import dagster as dg

from integrations.clock import PlatformClock
from integrations.database.resource import PostgresResource
from integrations.device_cloud_client import DeviceCloudClient
from integrations.tso_client import TsoClient
from orchestration.partitions import activation_partitions

TSO_ACTIVATIONS = dg.AssetKey(["raw", "tso_activations"])
DISPATCH_RUNS = dg.AssetKey(["raw", "dispatch_runs"])
DISPATCH_SETPOINTS = dg.AssetKey(["raw", "dispatch_setpoints"])


def _activation(partition_key: str):
    from integrations.dispatch.intake import inbox_path
    from integrations.dispatch.run import read_inbox

    path = inbox_path(partition_key)
    if not path.exists():
        raise dg.Failure(
            f"activation {partition_key}: no accepted document at {path}; only documents the "
            "intake accepted (tso_activation_sensor) can be dispatched"
        )
    return read_inbox(path)


@dg.asset(
    key=TSO_ACTIVATIONS,
    group_name="dispatch",
    partitions_def=activation_partitions,
    kinds={"python", "xml", "api", "postgres"},
    owners=["team:operations"],
)
def tso_activations(
    context: dg.AssetExecutionContext, postgres: PostgresResource, tso: TsoClient
) -> dg.MaterializeResult:
    """The activation revision of this partition, stored and acknowledged to the TSO.

    The document was checked at intake (signature, XSD, activation rules) and kept in the inbox;
    here it is stored in ``raw.tso_activations`` and answered with an XSD-valid
    Acknowledgement_MarketDocument (A01), recorded in ``ops.tso_submissions``.
    """
    from integrations.dispatch.run import acknowledge

    activation = _activation(context.partition_key)
    with postgres.connect() as conn:
        acknowledged_at = acknowledge(conn, tso, activation)
    return dg.MaterializeResult(
        metadata={
            "pool_id": dg.MetadataValue.text(activation.pool_id),
            "market": dg.MetadataValue.text(activation.market),
            "direction": dg.MetadataValue.text(activation.direction),
            "requested_mw": dg.MetadataValue.float(float(activation.requested_mw)),
            "valid_from": dg.MetadataValue.text(activation.valid_from.isoformat()),
            "valid_to": dg.MetadataValue.text(activation.valid_to.isoformat()),
            "acknowledged_at": dg.MetadataValue.text(acknowledged_at.isoformat()),
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            DISPATCH_RUNS,
            deps=[TSO_ACTIVATIONS],
            description="Per activation revision: requested, planned and accepted kW, the "
            "shortfall, and the activation response sent to the TSO.",
            kinds={"python", "xml", "api", "postgres"},
            owners=["team:operations"],
        ),
        dg.AssetSpec(
            DISPATCH_SETPOINTS,
            deps=[TSO_ACTIVATIONS],
            description="Per activation revision and device: the setpoint (kW in the "
            "activation's direction), the target power and whether the device cloud took it.",
            kinds={"python", "api", "postgres"},
            owners=["team:operations"],
        ),
    ],
    group_name="dispatch",
    partitions_def=activation_partitions,
)
def dispatch_plan(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    tso: TsoClient,
    device_cloud: DeviceCloudClient,
    clock: PlatformClock,
):
    """Split the activation over the pool's devices, send the setpoints, answer the TSO.

    Cheapest devices first, pro rata among equals (``domain.dispatch``; excluded sites and
    devices without a usable state left out); a device that refuses its setpoint gets 0 and its
    share moves to the others; the activation response says activated, partially activated or
    unavailable with the reason (``integrations/dispatch/run.py``). Usually the sensor's tick
    did this already (``integrations/dispatch/in_tick.py``): the run then records it.
    """
    from integrations.dispatch.run import dispatch, dispatch_summary, record_run

    activation = _activation(context.partition_key)
    with postgres.connect() as conn:
        done = dispatch_summary(conn, activation)
        where = "the sensor's tick"
        if done is None:
            dispatch(conn, tso, device_cloud, activation, clock.now(), context.run_id)
            where = "this run"
        else:
            record_run(conn, activation, context.run_id)
        summary = dispatch_summary(conn, activation)
    if summary is None:
        raise dg.Failure(f"activation {context.partition_key}: the dispatch was not recorded")
    context.log.info(
        "%s %s %s MW: %s kW on %d devices, %d failed, response %s (dispatched in %s)",
        activation.pool_id,
        activation.direction,
        activation.requested_mw,
        summary.dispatched_kw,
        summary.devices_with_setpoint,
        summary.devices_failed,
        summary.response,
        where,
    )
    yield dg.MaterializeResult(
        asset_key=DISPATCH_RUNS,
        metadata={
            "requested_kw": dg.MetadataValue.float(float(summary.requested_kw)),
            "dispatched_kw": dg.MetadataValue.float(float(summary.dispatched_kw)),
            "shortfall_kw": dg.MetadataValue.float(float(summary.shortfall_kw)),
            "response": dg.MetadataValue.text(summary.response),
            "dispatched_in": dg.MetadataValue.text(where),
        },
    )
    yield dg.MaterializeResult(
        asset_key=DISPATCH_SETPOINTS,
        metadata={
            "devices_with_setpoint": dg.MetadataValue.int(summary.devices_with_setpoint),
            "devices_failed": dg.MetadataValue.int(summary.devices_failed),
            "devices_left_out": dg.MetadataValue.int(summary.devices_left_out),
        },
    )
