-- When the platform acknowledged each activation revision to the TSO, and with which document.
alter table raw.tso_activations
add column acknowledged_at timestamptz,
add column acknowledgement_mrid text;
