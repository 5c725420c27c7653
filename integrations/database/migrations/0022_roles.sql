-- Roles: who may read and write what (docs/privacy.md, "Who sees it"). Personal data of
-- prosumers (name, e-mail, address) lives only in schema pii; every other schema holds ids,
-- EANs and keyed pseudonyms. Five group roles, none of which can log in; an operator gives a
-- person or a service a login in one of them, for example
--     create role alice login password '...' in role vppal_analyst;
--     create role pipeline login password '...' in role vppal_ingest;
--     alter role pipeline set role vppal_ingest;  -- what it creates belongs to the group
--
--   vppal_ingest    the Python side of the pipeline (loaders, settlement, TSO documents):
--                   reads and writes raw and ops, reads what dbt builds, creates the day
--                   partitions of raw.device_measurements (it owns that table); of pii only
--                   the customer ids, and it writes personal data through one function,
--                   pii.upsert_customers, never reading it back.
--   vppal_transform dbt: reads raw and ops, creates and replaces in staging, intermediate,
--                   marts and finance; nothing of pii.
--   vppal_analyst   reads marts, finance and ops (except the erasure register); nothing of
--                   raw, staging, intermediate or pii; writes nothing.
--   vppal_pii       reads and writes pii only, and records erasures in ops.erasures.
--   finance_reader  (migration 0016, a login role) reads finance only.
--
-- Roles belong to the whole server: each is created once, and a database migrating at the
-- same moment as another finds it there (the DO blocks, as in 0016). Grants and default
-- privileges belong to each database. Default privileges cover what is created later by the
-- user running this migration (who runs dbt and the pipeline on a single-user setup) and by
-- the group roles vppal_transform and vppal_ingest (a login that sets its role to the group),
-- so every table dbt rebuilds stays readable by the right roles. Giving default privileges
-- for another role needs membership in it: the migrating user must be a superuser (as on the
-- embedded server) or a member of vppal_transform and vppal_ingest.

do $$
begin
    create role vppal_ingest nologin;
exception
    when duplicate_object or unique_violation then null;
end
$$;

do $$
begin
    create role vppal_transform nologin;
exception
    when duplicate_object or unique_violation then null;
end
$$;

do $$
begin
    create role vppal_analyst nologin;
exception
    when duplicate_object or unique_violation then null;
end
$$;

do $$
begin
    create role vppal_pii nologin;
exception
    when duplicate_object or unique_violation then null;
end
$$;

-- dbt's schemas exist before dbt first runs, so vppal_transform needs no CREATE on the
-- database (dbt creates only the schemas it does not find).
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
create schema if not exists finance;

-- The erasure register (integrations/privacy/erasure.py): one row per erasure, holding no
-- personal data: the customer's pseudonym (as in the finance tables), when, why, by which
-- database login, and what was removed. The registry loader refuses a customer listed here.
create table ops.erasures (
    erasure_id bigint generated always as identity primary key,
    customer_pseudonym text not null,
    reason text not null check (btrim(reason) <> ''),
    erased_at timestamptz not null default now(),
    erased_by text not null default session_user,
    personal_rows_deleted integer not null,
    landed_files_redacted integer not null,
    landed_records_redacted integer not null,
    landed_files_unreadable integer not null
);
create index on ops.erasures (customer_pseudonym);

-- The one way personal data gets in from the pipeline: upsert customers given as a JSON list
-- of {customer_id, name, email, address}; returns the ids whose row is new or changed (the
-- loader stores a version only for those). It runs as vppal_pii, so it can do no more than
-- that role; the caller needs no privilege on the table and learns nothing stored.
create function pii.upsert_customers(records jsonb, received_at timestamptz)
returns table (customer_id text)
language sql
security definer
set search_path = pg_catalog, pg_temp
as $$
    insert into pii.customers as stored (customer_id, name, email, address, updated_at)
    select incoming.customer_id, incoming.name, incoming.email, incoming.address, received_at
    from jsonb_to_recordset(records)
        as incoming (customer_id text, name text, email text, address text)
    on conflict (customer_id) do update
        set
            name = excluded.name,
            email = excluded.email,
            address = excluded.address,
            updated_at = excluded.updated_at
        where
            (stored.name, stored.email, stored.address)
            is distinct from (excluded.name, excluded.email, excluded.address)
    returning stored.customer_id
$$;

-- vppal_pii: pii, and the erasure register.
grant usage on schema pii to vppal_pii;
grant select, insert, update, delete on all tables in schema pii to vppal_pii;
alter default privileges in schema pii
grant select, insert, update, delete on tables to vppal_pii;
grant usage on schema ops to vppal_pii;
grant select, insert on ops.erasures to vppal_pii;
alter function pii.upsert_customers(jsonb, timestamptz) owner to vppal_pii;
revoke all on function pii.upsert_customers(jsonb, timestamptz) from public;

-- vppal_ingest: raw and ops, read what dbt builds, customer ids of pii and the upsert.
grant usage, create on schema raw to vppal_ingest;
grant usage on schema ops to vppal_ingest;
grant select, insert, update, delete on all tables in schema raw, ops to vppal_ingest;
grant usage, select on all sequences in schema raw, ops to vppal_ingest;
revoke insert, update, delete on ops.erasures, ops.schema_migrations from vppal_ingest;
alter default privileges in schema raw, ops
grant select, insert, update, delete on tables to vppal_ingest;
alter default privileges in schema raw, ops grant usage, select on sequences to vppal_ingest;
-- Only the owner of a partitioned table may create its partitions (one per UTC day).
alter table raw.device_measurements owner to vppal_ingest;
grant usage on schema pii to vppal_ingest;
grant select (customer_id) on pii.customers to vppal_ingest;
grant execute on function pii.upsert_customers(jsonb, timestamptz) to vppal_ingest;
grant usage on schema staging, intermediate, marts, finance to vppal_ingest;
grant select on all tables in schema staging, intermediate, marts, finance to vppal_ingest;
alter default privileges in schema staging, intermediate, marts, finance
grant select on tables to vppal_ingest;
alter default privileges for role vppal_transform in schema staging, intermediate, marts, finance
grant select on tables to vppal_ingest;

-- vppal_transform: read raw and ops, build staging, intermediate, marts and finance.
grant usage on schema raw, ops to vppal_transform;
grant select on all tables in schema raw, ops to vppal_transform;
revoke select on ops.erasures from vppal_transform;
alter default privileges in schema raw, ops grant select on tables to vppal_transform;
alter default privileges for role vppal_ingest in schema raw, ops
grant select on tables to vppal_transform;
grant usage, create on schema staging, intermediate, marts, finance to vppal_transform;

-- vppal_analyst: read marts, finance and ops (not the erasure register).
grant usage on schema marts, finance, ops to vppal_analyst;
grant select on all tables in schema marts, finance, ops to vppal_analyst;
revoke select on ops.erasures from vppal_analyst;
alter default privileges in schema marts, finance, ops grant select on tables to vppal_analyst;
alter default privileges for role vppal_transform in schema marts, finance
grant select on tables to vppal_analyst;
alter default privileges for role vppal_ingest in schema ops
grant select on tables to vppal_analyst;

-- finance_reader (0016) also reads the finance views dbt builds as vppal_transform.
alter default privileges for role vppal_transform in schema finance
grant select on tables to finance_reader;
