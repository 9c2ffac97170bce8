-- What order management made of the commands firings sent: one row per order, kept from its
-- events on orders.events.v1 (docs/AUTOMATION.md, "Executions"). A firing's orders are those
-- whose idempotency key is the firing id, a schedule's slice (<firing id>/<slice>) or a list's
-- leg (<firing id>#<role>). Only a newer order version overwrites a row: events arrive at least
-- once and, across partitions of the events topic, in any order.
CREATE TABLE executions (
    order_id text PRIMARY KEY,
    firing_id text NOT NULL REFERENCES firings (firing_id),
    idempotency_key text NOT NULL,
    account_id text NOT NULL,
    exchange text NOT NULL,
    symbol text NOT NULL,
    side text NOT NULL,
    state text NOT NULL,
    filled_quantity numeric NOT NULL,
    average_price numeric,
    reason text NOT NULL DEFAULT '',
    version bigint NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX executions_firing ON executions (firing_id);
