-- The finance schema (dbt's marts/finance models) and its reader: finance_reader may log in and
-- SELECT the tables and views of schema finance, and nothing else. It gets no USAGE on raw,
-- staging, intermediate, marts, ops or pii, so it cannot read measurements, the registry or
-- the customers' personal data, and no privilege to write anywhere. Roles belong to the whole
-- server: the role is created once (several databases, e.g. test sessions, may migrate at the
-- same time), the grants are per database. No password is set here: the embedded server trusts
-- loopback connections; on an external server set one (ALTER ROLE finance_reader PASSWORD ...).
create schema if not exists finance;

do $$
begin
    create role finance_reader login;
exception
    when duplicate_object or unique_violation then null;
end
$$;

grant usage on schema finance to finance_reader;
grant select on all tables in schema finance to finance_reader;
-- dbt rebuilds the finance views and tables as this migration's user: each new one is readable.
alter default privileges in schema finance grant select on tables to finance_reader;
