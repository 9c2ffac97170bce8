-- Each creation or reset of a client gets a new generation, carried by its tokens (claim
-- "gen"): a token outlives neither a reset nor a deletion of its client, even when the same
-- client_id is created again, because generations come from one sequence and never repeat.
CREATE SEQUENCE client_generation;
ALTER TABLE clients ADD COLUMN generation bigint NOT NULL DEFAULT nextval('client_generation');
ALTER TABLE clients ADD COLUMN disabled_at timestamptz;
