-- Arbitrage execution (docs/AUTOMATION.md, "Executing an opportunity"): which accounts execute
-- opportunities, each execution with its state, and its legs as order management reports them.

-- Per-account opt-in, off unless a row says enabled. held_reason non-empty: an execution of the
-- account FAILED (its unwind did not flatten it) and nothing is executed until an administrator
-- releases it.
CREATE TABLE arbitrage_accounts (
    account_id text PRIMARY KEY,
    enabled boolean NOT NULL,
    exchanges text[] NOT NULL,
    symbols text[] NOT NULL,
    max_notional_per_execution numeric NOT NULL,
    max_notional_per_day numeric NOT NULL,
    min_net_profit_bps numeric NOT NULL,
    cooldown_s integer NOT NULL,
    lot numeric NOT NULL,
    held_reason text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL
);

-- One row per (opportunity, account): execution_id is derived from both, so an opportunity seen
-- again (a re-evaluation, a hand-over, a restart) never executes twice for an account.
CREATE TABLE arbitrage_executions (
    execution_id text PRIMARY KEY,
    opportunity_id uuid NOT NULL,
    account_id text NOT NULL,
    symbol text NOT NULL,
    buy_exchange text NOT NULL,
    sell_exchange text NOT NULL,
    quantity numeric NOT NULL,
    buy_price numeric NOT NULL,   -- the buy leg's limit: the walk's worst ask
    sell_price numeric NOT NULL,  -- the sell leg's limit: the walk's worst bid
    notional numeric NOT NULL,    -- quantity x buy_price, what the limits count
    expected_net_profit numeric NOT NULL,
    expected_net_profit_bps numeric NOT NULL,
    state text NOT NULL
        CHECK (state IN ('sent', 'both_filled', 'missed', 'unwinding', 'unwound', 'failed')),
    reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX arbitrage_executions_account ON arbitrage_executions (account_id, created_at DESC);

-- The orders of an execution: its buy and sell legs, and the unwind when there is one. The
-- idempotency key (<execution id>#buy, #sell, #unwind) is the command's; the order columns
-- follow orders.events.v1, changed only by a newer order version.
CREATE TABLE arbitrage_legs (
    idempotency_key text PRIMARY KEY,
    execution_id text NOT NULL REFERENCES arbitrage_executions (execution_id),
    role text NOT NULL CHECK (role IN ('buy', 'sell', 'unwind')),
    exchange text NOT NULL,
    symbol text NOT NULL,
    side text NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type text NOT NULL,
    quantity numeric NOT NULL,
    price numeric,
    order_id text,
    state text NOT NULL DEFAULT 'sent',
    filled_quantity numeric NOT NULL DEFAULT 0,
    average_price numeric,
    reason text NOT NULL DEFAULT '',
    version bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX arbitrage_legs_execution ON arbitrage_legs (execution_id);

-- Every state change of an execution for alerts.arbitrage.executions.v1 (key account), written
-- in the change's transaction and published by the service's relay (as change_outbox is).
CREATE TABLE arbitrage_execution_outbox (
    id bigserial PRIMARY KEY,
    account_id text NOT NULL,
    payload bytea NOT NULL,
    published_at timestamptz
);
CREATE INDEX arbitrage_execution_outbox_pending ON arbitrage_execution_outbox (id)
    WHERE published_at IS NULL;
