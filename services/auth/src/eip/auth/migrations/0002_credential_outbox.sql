-- Credential lifecycle events (protobuf CredentialEvent, never a secret) queued in the
-- transaction of the change and deleted once Kafka acknowledged them.
CREATE TABLE credential_outbox (
    id bigserial PRIMARY KEY,
    credential_id uuid NOT NULL,
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
