"""The one Definitions entry point loads and holds what the UI and schedules need."""

import dagster as dg


def test_definitions_load_with_every_asset_grouped_described_and_owned():
    from orchestration.definitions import defs

    specs = list(defs.resolve_all_asset_specs())
    assert len(specs) >= 25
    for spec in specs:
        assert spec.group_name in {
            "registry",
            "ops",
            "calendar",
            "measurements",
            "baselines",
            "validation",
            "bidding",
        }, spec.key
        assert spec.description, f"{spec.key.to_user_string()} has no description"
        assert spec.kinds, f"{spec.key.to_user_string()} has no kind tags"


def test_dbt_models_are_assets_and_dbt_tests_are_asset_checks():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    contract_marts = [
        "dim_locations",
        "dim_sites",
        "dim_devices",
        "dim_pools",
        "fct_device_pool_membership",
        "site_market_status",
    ]
    for name in contract_marts:
        assert dg.AssetKey(["marts", name]) in graph.get_all_asset_keys()
    checked = {key.asset_key for key in graph.asset_check_keys}
    assert dg.AssetKey(["marts", "dim_devices"]) in checked


def test_the_registry_job_sensor_and_schedule_are_defined():
    from orchestration.definitions import defs

    assert defs.resolve_job_def("registry_job")
    assert defs.resolve_sensor_def("registry_landing_sensor").job_name == "registry_job"
    assert defs.resolve_schedule_def("device_cloud_onboarding_schedule")


def test_devices_wait_for_the_device_cloud_onboardings():
    from orchestration.definitions import defs

    parents = (
        defs.resolve_asset_graph()
        .get(dg.AssetKey(["staging", "stg_registry__devices"]))
        .parent_keys
    )
    assert dg.AssetKey(["landing", "device_cloud_onboardings"]) in parents


def test_the_flexibility_of_the_hour_after_next_is_computed_before_its_gates():
    from datetime import UTC, datetime, timedelta

    from orchestration.definitions import defs
    from orchestration.partitions import bidding_hourly_partitions

    schedule = defs.resolve_schedule_def("pool_flex_schedule")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    at = hour + timedelta(minutes=30)
    [request] = schedule.evaluate_tick(
        dg.build_schedule_context(
            scheduled_execution_time=at, repository_def=defs.get_repository_def()
        )
    ).run_requests
    target = hour + timedelta(hours=2)
    assert request.partition_key == f"{target:%Y-%m-%d-%H:%M}"
    # the hour after next is a partition already (its first aFRR gate closes at :35 next hour);
    # the hour after that is not yet
    assert bidding_hourly_partitions.has_partition_key(request.partition_key)
    assert not bidding_hourly_partitions.has_partition_key(
        f"{target + timedelta(hours=1):%Y-%m-%d-%H:%M}"
    )
