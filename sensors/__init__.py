"""Sensors that turn arriving files and events into runs."""

import dagster as dg

from sensors.registry_files import registry_landing_sensor

defs = dg.Definitions(sensors=[registry_landing_sensor])
