-- Every device setpoint of every activation revision. A revision replaces the earlier plan:
-- the rows of a replaced revision keep their own status and say so in is_latest_revision.
{{ config(materialized='view') }}

with

setpoints as (
    select * from {{ ref('stg_dispatch__dispatch_setpoints') }}
),

revisions as (
    select
        activation_id,
        max(revision) as latest_revision
    from setpoints
    group by activation_id
),

planned as (
    select
        setpoints.activation_id,
        setpoints.revision,
        setpoints.pool_id,
        setpoints.device_id,
        setpoints.site_id,
        setpoints.setpoint_kw,
        setpoints.target_kw,
        setpoints.valid_from,
        setpoints.valid_to,
        setpoints.status,
        setpoints.reason,
        setpoints.sent_at,
        setpoints.revision = revisions.latest_revision as is_latest_revision
    from setpoints
    inner join revisions on setpoints.activation_id = revisions.activation_id
)

select * from planned
