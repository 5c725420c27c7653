-- What each load delivered per device and UTC hour, counted by the loader while the readings
-- stream in (integrations/measurements/hour_summary.py). The quality suite checks completeness
-- and timestamp order from these rows instead of sorting millions of readings: a device-hour
-- whose readings in raw.device_measurements all come from one load and match its row here
-- (count, first and last ts) is described exactly by it; any other is read from the readings.
-- Rows of a load are written only by that load and only ever deleted afterwards, so a matching
-- count means the same readings. Deleting readings (duplicates, replaced loads) deletes the
-- affected rows here too.
create table raw.measurement_load_hours (
    hour_start timestamptz not null,
    device_id text not null,
    load_id bigint not null,
    readings integer not null,
    first_ts timestamptz not null,
    last_ts timestamptz not null,
    -- the gaps between consecutive readings of the device within the hour, in tenths of a
    -- second rounded up (ascending), and how many readings came after each
    gap_tenths integer[] not null,
    gap_readings integer[] not null,
    primary key (hour_start, device_id, load_id)
);
