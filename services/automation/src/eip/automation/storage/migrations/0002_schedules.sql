-- Sliced executions (a TWAP action): the parent firing starts a schedule whose slices are
-- ordinary commands, each under its own idempotency key <firing id>/<slice>.

ALTER TABLE command_outbox DROP CONSTRAINT command_outbox_firing_id_fkey;
COMMENT ON COLUMN command_outbox.firing_id IS
    'the command''s idempotency key: a firing id, or <firing id>/<slice> for a schedule''s slice';

ALTER TABLE firings DROP CONSTRAINT firings_outcome_check;
ALTER TABLE firings ADD CONSTRAINT firings_outcome_check
    CHECK (outcome IN ('command', 'alert', 'refused', 'error', 'schedule'));

CREATE TABLE schedules (
    firing_id text PRIMARY KEY REFERENCES firings (firing_id),
    rule_id uuid NOT NULL REFERENCES rules (rule_id),
    account_id text NOT NULL,
    action jsonb NOT NULL,
    started_at timestamptz NOT NULL,
    next_slice integer NOT NULL DEFAULT 0,
    done_quantity numeric NOT NULL DEFAULT 0,
    shortfall numeric,  -- what the participation cap left unsent, once done
    status text NOT NULL CHECK (status IN ('running', 'done')),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_running ON schedules (account_id) WHERE status = 'running';
