"""Sensors that turn arriving files and events into runs and alerts."""

import dagster as dg

from sensors.activations import tso_activation_sensor
from sensors.measurements import (
    measurement_files_sensor,
    measurement_freshness_sensor,
    measurement_hours_sensor,
)
from sensors.registry_files import registry_landing_sensor
from sensors.settlement import settlement_sensor

defs = dg.Definitions(
    sensors=[
        registry_landing_sensor,
        measurement_files_sensor,
        measurement_hours_sensor,
        measurement_freshness_sensor,
        settlement_sensor,
        tso_activation_sensor,
    ]
)
