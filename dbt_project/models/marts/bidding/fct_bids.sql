-- Every bid revision sent to the TSO with the TSO's answer to its document. A view: the raw
-- tables are small and only grow, and the status must show an acknowledgement at once.
{{ config(materialized='view') }}

with

bids as (
    select * from {{ ref('stg_bidding__bids') }}
),

documents as (
    select * from {{ ref('stg_bidding__tso_submissions') }}
),

answered as (
    select
        bids.bid_mrid,
        bids.document_mrid,
        bids.revision,
        bids.document_revision,
        bids.pool_id,
        bids.market,
        bids.isp_start,
        bids.direction,
        bids.step,
        bids.quantity_mw,
        bids.price_eur_mwh,
        bids.gate_closes_at,
        documents.submitted_at,
        documents.acknowledged_at,
        documents.ack_reason as reason,
        bids.flex_computed_at,
        bids.planned_at,
        coalesce(documents.ack_status, 'pending') as status,
        bids.quantity_mw = 0 as is_cancellation
    from bids
    inner join documents
        on
            bids.document_mrid = documents.document_mrid
            and bids.document_revision = documents.revision
)

select * from answered
