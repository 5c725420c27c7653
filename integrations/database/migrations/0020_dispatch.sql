-- Dispatch: every activation document received, what was done with each activation, and the
-- setpoints sent to the device cloud.

-- Every activation document received (from the TSO's feed or a landed file), accepted or
-- refused, by the digest of its exact bytes; refused ones also go to ops.quarantine with an
-- activation_refused alert.
create table raw.activation_documents (
    document_sha256 text primary key,
    source text not null,
    feed_sequence bigint,
    document_mrid text,
    revision integer,
    received_at timestamptz not null,
    status text not null check (status in ('accepted', 'refused')),
    reason_code text,
    reason text,
    run_id text
);
create index on raw.activation_documents (document_mrid, revision);

-- One row per dispatched activation revision: the plan's totals and the activation response
-- sent to the TSO (ended: a revision to 0 MW, the devices released and no response due).
create table raw.dispatch_runs (
    activation_id text not null,
    revision integer not null,
    pool_id text not null,
    direction text not null check (direction in ('up', 'down')),
    requested_kw numeric(14, 3) not null check (requested_kw >= 0),
    planned_kw numeric(14, 3),
    accepted_kw numeric(14, 3),
    shortfall_kw numeric(14, 3),
    acknowledged_at timestamptz,
    acknowledgement_mrid text,
    setpoints_sent_at timestamptz,
    responded_at timestamptz,
    response text check (
        response in ('activated', 'partially_activated', 'unavailable', 'ended')
    ),
    response_reason text,
    response_mrid text,
    run_id text,
    primary key (activation_id, revision)
);

-- The device setpoints of each activation revision: target_kw is the power (offtake positive)
-- the device is asked to run at over [valid_from, valid_to); setpoint_kw its change in the
-- activation's direction (>= 0). status: sent and accepted, failed (the device cloud refused;
-- its share moved to others where possible), idle (no share), left_out (not eligible).
create table raw.dispatch_setpoints (
    activation_id text not null,
    revision integer not null,
    device_id text not null,
    pool_id text not null,
    site_id text,
    setpoint_kw numeric(14, 3) not null check (setpoint_kw >= 0),
    target_kw numeric(14, 3),
    valid_from timestamptz not null,
    valid_to timestamptz not null check (valid_to > valid_from),
    status text not null check (status in ('accepted', 'failed', 'idle', 'left_out')),
    reason text,
    sent_at timestamptz,
    primary key (activation_id, revision, device_id),
    foreign key (activation_id, revision) references raw.dispatch_runs (activation_id, revision)
);
