-- Every activation revision with its acknowledgement and the answer sent to the TSO. A view:
-- the dispatch run writes the raw rows seconds after the activation arrives.
{{ config(materialized='view') }}

with

activations as (
    select * from {{ ref('stg_dispatch__tso_activations') }}
),

runs as (
    select * from {{ ref('stg_dispatch__dispatch_runs') }}
),

answered as (
    select
        activations.activation_id,
        activations.revision,
        activations.pool_id,
        activations.market,
        activations.direction,
        activations.requested_mw,
        activations.valid_from,
        activations.valid_to,
        activations.received_at,
        activations.acknowledged_at,
        runs.responded_at,
        runs.response,
        runs.response_reason,
        (runs.planned_kw / 1000)::numeric(14, 6) as dispatched_mw,
        (runs.shortfall_kw / 1000)::numeric(14, 6) as shortfall_mw,
        not exists (
            select 1 from activations as later
            where
                later.activation_id = activations.activation_id
                and later.revision > activations.revision
        ) as is_latest_revision
    from activations
    left join runs
        on
            activations.activation_id = runs.activation_id
            and activations.revision = runs.revision
)

select * from answered
