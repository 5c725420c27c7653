-- Base schema of the registry: landed records (raw), personal data (pii), operations (ops).
-- dbt builds staging, intermediate and marts on top of these tables.

create schema if not exists raw;
create schema if not exists pii;
create schema if not exists ops;

-- Every registry file that was loaded, once per (batch, file name, content hash).
create table raw.registry_files (
    file_id bigserial primary key,
    batch text not null,
    file_name text not null,
    entity text not null,
    content_sha256 text not null,
    rows_total integer not null,
    rows_loaded integer not null,
    rows_unchanged integer not null,
    rows_quarantined integer not null,
    loaded_at timestamptz not null default now(),
    unique (batch, file_name, content_sha256)
);

-- Record versions: a row is appended only when it differs from the latest version of its key,
-- so history is kept and reloading a file adds nothing. Staging picks the latest version.
create table raw.registry_customers (
    customer_id text not null,
    file_id bigint not null references raw.registry_files,
    source_line integer not null,
    received_at timestamptz not null
);

create table raw.registry_locations (
    location_id text not null,
    customer_id text not null,
    ean char(18) not null,
    file_id bigint not null references raw.registry_files,
    source_line integer not null,
    received_at timestamptz not null
);

create table raw.registry_sites (
    site_id text not null,
    location_id text not null,
    ean char(18) not null,
    file_id bigint not null references raw.registry_files,
    source_line integer not null,
    received_at timestamptz not null
);

create table raw.registry_devices (
    device_id text not null,
    site_id text not null,
    device_type text not null,
    rated_power_kw numeric(12, 3) not null check (rated_power_kw > 0),
    controllable boolean not null,
    oem text,
    strike_price_eur_mwh numeric(12, 2),
    file_id bigint not null references raw.registry_files,
    source_line integer not null,
    received_at timestamptz not null
);

create table raw.registry_pools (
    pool_id text not null,
    market text not null,
    name text,
    file_id bigint not null references raw.registry_files,
    source_line integer not null,
    received_at timestamptz not null
);

create table raw.registry_memberships (
    device_id text not null,
    pool_id text not null,
    valid_from timestamptz not null,
    valid_to timestamptz,
    file_id bigint not null references raw.registry_files,
    source_line integer not null,
    received_at timestamptz not null,
    check (valid_to is null or valid_to > valid_from)
);

create table raw.registry_contracts (
    customer_id text not null,
    revenue_share_pct numeric(5, 2) not null,
    fee_eur_per_activation numeric(12, 4) not null,
    valid_from timestamptz not null,
    valid_to timestamptz,
    file_id bigint not null references raw.registry_files,
    source_line integer not null,
    received_at timestamptz not null
);

create index on raw.registry_customers (customer_id, file_id desc);
create index on raw.registry_locations (location_id, file_id desc);
create index on raw.registry_sites (site_id, file_id desc);
create index on raw.registry_devices (device_id, file_id desc);
create index on raw.registry_pools (pool_id, file_id desc);
create index on raw.registry_memberships (device_id, pool_id, valid_from, file_id desc);
create index on raw.registry_contracts (customer_id, valid_from, file_id desc);

-- Personal data of prosumers lives here and nowhere else; the current state only.
create table pii.customers (
    customer_id text primary key,
    name text not null,
    email text,
    address text,
    updated_at timestamptz not null default now()
);

-- Records refused at intake, with the reason; the valid rows beside them load. A record
-- refused again for the same reason at the same place of the same content is recorded once.
create table ops.quarantine (
    quarantine_id bigserial primary key,
    source text not null,
    source_sha256 text,
    source_line integer,
    entity text not null,
    record jsonb not null,
    reason_code text not null,
    reason text not null,
    received_at timestamptz not null default now(),
    unique nulls not distinct (source, source_sha256, source_line, reason_code)
);
create index on ops.quarantine (reason_code);

-- Alerts for operators; an alert is opened once per key and closed when its cause ends.
create table ops.alerts (
    alert_id bigserial primary key,
    alert_type text not null,
    alert_key text not null unique,
    entity_id text not null,
    severity text not null default 'warning',
    message text not null,
    details jsonb not null default '{}'::jsonb,
    opened_at timestamptz not null,
    closed_at timestamptz,
    updated_at timestamptz not null default now()
);
create index on ops.alerts (alert_type, closed_at);

-- Devices announced to the TSO, with the TSO's answer.
create table ops.tso_registrations (
    registration_id bigserial primary key,
    device_id text not null,
    site_id text not null,
    site_ean char(18) not null,
    payload_sha256 text not null,
    request jsonb not null,
    http_status integer,
    status text not null,
    tso_reference text,
    reason text,
    sent_at timestamptz not null,
    answered_at timestamptz
);
create index on ops.tso_registrations (device_id, sent_at desc);

-- Read positions in outside feeds (device-cloud onboardings, ...), so each event is taken once.
create table ops.source_cursors (
    source text primary key,
    cursor_value text not null,
    updated_at timestamptz not null default now()
);
