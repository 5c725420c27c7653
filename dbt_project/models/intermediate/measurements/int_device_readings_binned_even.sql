-- Half of int_device_readings_binned: devices with an even hashtext(device_id) (see the macro).
{{ binned_device_readings(half=0) }}
