"""Measurements: device readings from the device cloud (hourly) and landed files."""

import dagster as dg

from assets.measurements.device_cloud import raw_device_measurements
from assets.measurements.files import measurement_files

defs = dg.Definitions(assets=[raw_device_measurements, measurement_files])
