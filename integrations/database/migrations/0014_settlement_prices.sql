-- Settlement prices per ISP as published (TenneT's "Onbalansprijzen": dispatch up/down,
-- shortage, surplus), loaded by the settlement_prices asset (integrations/settlement/prices.py).
-- Each file is loaded once per content; a row is stored only when it differs from the latest
-- version of its (source, isp_start), so a revised publication adds versions and the history
-- stays: the latest file_id is the price in force.
create table raw.settlement_price_files (
    file_id bigint generated always as identity primary key,
    file_name text not null,
    content_sha256 text not null unique,
    source text not null,
    rows_total integer not null,
    rows_new integer not null,
    loaded_at timestamptz not null default now()
);

create table raw.settlement_prices (
    source text not null,
    isp_start timestamptz not null,
    local_date date not null,
    isp_number smallint not null check (isp_number between 1 and 100),
    price_dispatch_up_eur_mwh numeric(12, 2),
    price_dispatch_down_eur_mwh numeric(12, 2),
    price_shortage_eur_mwh numeric(12, 2) not null,
    price_surplus_eur_mwh numeric(12, 2) not null,
    regulation_state smallint not null check (regulation_state in (-1, 0, 1, 2)),
    incident_reserve_up boolean not null,
    incident_reserve_down boolean,
    currency text not null default 'EUR' check (currency = 'EUR'),
    file_id bigint not null references raw.settlement_price_files (file_id),
    received_at timestamptz not null default now(),
    primary key (source, isp_start, file_id)
);
create index on raw.settlement_prices (source, local_date);
