with

source as (
    select * from {{ source('bidding', 'bids') }}
),

renamed as (
    select
        -- ids
        bid_mrid,
        revision,
        document_mrid,
        document_revision,
        pool_id,
        market,

        -- what is offered
        isp_start,
        direction,
        step,
        quantity_mw,
        price_eur_mwh,

        -- when
        gate_closes_at,
        flex_computed_at,
        planned_at,

        -- lineage
        run_id
    from source
)

select * from renamed
