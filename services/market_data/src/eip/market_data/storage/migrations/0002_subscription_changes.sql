-- Subscriptions added or removed over HTTP, applied on top of the configured ones at start-up
-- (eip.storage.subscriptions reads and writes this table; its docstring is the contract).
-- key: exchange|symbol|channel.
CREATE TABLE subscription_changes (
    key text PRIMARY KEY,
    subscription jsonb NOT NULL,
    action text NOT NULL CHECK (action IN ('add', 'remove')),
    actor text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
