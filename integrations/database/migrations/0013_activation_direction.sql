-- Activations carry their direction apart from their size: requested_mw is a magnitude (>= 0)
-- and direction says which way the pool is asked to regulate ('up' = less offtake or more
-- injection, 'down' = more offtake or less injection; domain/dispatch/direction.py). Rows written
-- before this migration held a signed requested_mw, if any: a negative one was downward.
alter table raw.tso_activations add column direction text;

update raw.tso_activations
set
    direction = case when requested_mw < 0 then 'down' else 'up' end,
    requested_mw = abs(requested_mw);

alter table raw.tso_activations
alter column direction set not null,
add constraint tso_activations_direction_check check (direction in ('up', 'down')),
add constraint tso_activations_requested_mw_check check (requested_mw >= 0);
