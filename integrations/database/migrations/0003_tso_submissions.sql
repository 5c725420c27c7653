-- CIM documents submitted to the TSO (measurements, baselines, later bids), one row per
-- document revision, with the TSO's acknowledgement. A document's mRID is derived from
-- (kind, pool, period), so a re-run finds its earlier row: equal content reuses the revision,
-- changed content gets the next one. content_sha256 is the digest of the content without
-- createdDateTime and revisionNumber; file_sha256 that of the exact bytes in the outbox,
-- which are what is (re)sent. An mRID+revision is never sent with other content.
create table ops.tso_submissions (
    submission_id bigserial primary key,
    document_mrid text not null,
    revision integer not null check (revision between 1 and 999),
    document_kind text not null,
    pool_id text,
    period_start timestamptz not null,
    period_end timestamptz not null,
    content_sha256 text not null,
    file_sha256 text not null,
    outbox_path text not null,
    created_at timestamptz not null default now(),
    submitted_at timestamptz,
    attempts integer not null default 0,
    http_status integer,
    last_error text,
    ack_mrid text,
    ack_status text check (ack_status in ('accepted', 'rejected')),
    ack_reason_code text,
    ack_reason text,
    acknowledged_at timestamptz,
    unique (document_mrid, revision),
    check (period_end > period_start)
);
create index on ops.tso_submissions (document_kind, pool_id, period_start);
-- Submissions still waiting for an acknowledgement (sent again by the next run).
create index on ops.tso_submissions (created_at) where ack_status is null;
