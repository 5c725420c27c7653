-- Half of int_device_readings_binned: devices with an odd hashtext(device_id) (see the macro).
{{ binned_device_readings(half=1) }}
