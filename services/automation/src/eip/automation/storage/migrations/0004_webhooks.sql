-- Webhooks users register per account, and the deliveries to them (retried, then dead-lettered).
-- No secret is stored: a webhook's signing key is derived from the service's key and its id.

CREATE TABLE webhooks (
    webhook_id uuid PRIMARY KEY,
    account_id text NOT NULL,
    url text NOT NULL,
    events text[] NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    deleted_at timestamptz
);
CREATE INDEX webhooks_account ON webhooks (account_id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    webhook_id uuid NOT NULL REFERENCES webhooks (webhook_id),
    event_id text NOT NULL,   -- the same event is delivered once per webhook
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
