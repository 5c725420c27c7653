"""Jobs and schedules: named selections of assets, and when they run."""

import dagster as dg

registry_job = dg.define_asset_job(
    name="registry_job",
    selection=dg.AssetSelection.groups("registry", "ops"),
    description="Registry & pooling end to end: device-cloud onboardings, landed registry files, "
    "dbt registry marts with their tests, site exclusivity alerts and TSO registration.",
)

device_cloud_onboarding_schedule = dg.ScheduleDefinition(
    name="device_cloud_onboarding_schedule",
    description="Every 15 minutes: fetch owners' onboardings from the device cloud and rebuild "
    "the registry.",
    job=registry_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="Europe/Amsterdam",
)

defs = dg.Definitions(jobs=[registry_job], schedules=[device_cloud_onboarding_schedule])
