-- The audit trail: one hash chain per schema. A row is never updated or deleted; the chain
-- makes an edit or a deletion detectable (python -m eip.audit verify).
CREATE TABLE audit_events (
    sequence bigint PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    actor text NOT NULL,
    action text NOT NULL,
    subject text NOT NULL,
    time timestamptz NOT NULL,
    outcome text NOT NULL,
    details jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL
);
CREATE INDEX audit_events_actor ON audit_events (actor, sequence);
CREATE INDEX audit_events_subject ON audit_events (subject, sequence);
CREATE INDEX audit_events_action ON audit_events (action, sequence);
