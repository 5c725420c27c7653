"""How long each activation ran: the one SQL definition the baselines and settlement share.

An activation runs from its first revision's start (a revision starts later and replaces the
rest) to its latest revision's end, or to the start of a latest revision of 0 MW, which ends
it; one ended before it started never ran and is left out.
"""

from __future__ import annotations

#: A ``with`` clause defining ``activation_runs`` (activation_id, revision = the latest,
#: pool_id, direction, first_from, ran_to) over ``raw.tso_activations``.
ACTIVATION_RUNS_CTE = """
with activation_revisions as (
    select
        activation_id,
        revision,
        pool_id,
        direction,
        min(valid_from) over (partition by activation_id) as first_from,
        case when requested_mw = 0 then valid_from else valid_to end as ran_to,
        row_number() over (partition by activation_id order by revision desc) as newest
    from raw.tso_activations
),

activation_runs as (
    select activation_id, revision, pool_id, direction, first_from, ran_to
    from activation_revisions
    where newest = 1 and ran_to > first_from
)
"""
