-- Audit events staged in the transaction of the change they describe, chained into the platform
-- audit trail (eip.audit) in batches by any instance: the chain's lock is taken once per batch
-- instead of in every order transaction (docs/ORDER_MANAGEMENT.md, "The audit trail"). A row is
-- deleted in the transaction that chains it, so each is chained exactly once.
CREATE TABLE audit_outbox (
    id bigserial PRIMARY KEY,
    actor text NOT NULL,
    action text NOT NULL,
    subject text NOT NULL,
    outcome text NOT NULL,
    details jsonb NOT NULL,
    time timestamptz NOT NULL
);
