-- Order management's tables. order_events is the truth; orders is its projection, written in the
-- same transaction as each event (docs/ORDER_MANAGEMENT.md).

-- Who owns each partition of orders.commands.v1 (the accounts whose key it holds), and the
-- fencing token: every change and every claim of an outbox row checks the epoch it was given
-- (FOR SHARE), and a new owner's UPDATE waits for those transactions and invalidates the rest.
CREATE TABLE partition_leases (
    partition integer PRIMARY KEY,
    epoch bigint NOT NULL,
    owner text NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now()
);

-- Every command by its idempotency key: the same key twice is answered with the first result.
CREATE TABLE commands (
    account_id text NOT NULL,
    idempotency_key text NOT NULL,
    kind text NOT NULL,
    request_hash text NOT NULL,
    order_id uuid,
    list_id uuid,
    result jsonb NOT NULL DEFAULT '{}',
    requested_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, idempotency_key)
);

CREATE TABLE orders (
    order_id uuid PRIMARY KEY,
    account_id text NOT NULL,
    exchange text NOT NULL,
    symbol text NOT NULL,
    partition integer NOT NULL,
    client_order_id text NOT NULL,
    venue_order_id text,
    state text NOT NULL,
    version integer NOT NULL,
    open boolean NOT NULL,
    list_id uuid,
    parent_id uuid,
    data jsonb NOT NULL,  -- the whole projection (eip.order_management.orders.encode_fields)
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (account_id, client_order_id)
);
CREATE INDEX orders_open ON orders (partition, account_id, exchange) WHERE open;
CREATE INDEX orders_by_account ON orders (account_id, created_at DESC, order_id);
CREATE INDEX orders_by_venue_id ON orders (exchange, venue_order_id) WHERE venue_order_id IS NOT NULL;
CREATE INDEX orders_by_list ON orders (list_id) WHERE list_id IS NOT NULL;
CREATE INDEX orders_by_parent ON orders (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE order_events (
    order_id uuid NOT NULL,
    version integer NOT NULL,
    event text NOT NULL,
    state text NOT NULL,
    actor text NOT NULL,
    time timestamptz NOT NULL,
    changes jsonb NOT NULL,
    PRIMARY KEY (order_id, version)
);

-- Executions by the venue's trade id (with the venue order id: a self-trade has two sides).
CREATE TABLE order_fills (
    order_id uuid NOT NULL,
    trade_id text NOT NULL,
    venue_order_id text NOT NULL,
    price numeric NOT NULL,
    quantity numeric NOT NULL,
    fee numeric NOT NULL,
    fee_asset text,
    liquidity text,
    time timestamptz NOT NULL,
    PRIMARY KEY (order_id, trade_id)
);

-- Venue calls to make: placements, cancels, amends. A row is claimed (state 'sending', with the
-- claimer's epoch) in the transaction that moves its order, and deleted in the transaction that
-- records the venue's answer; 'in_doubt' rows wait for the venue to say what happened.
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    order_id uuid NOT NULL,
    partition integer NOT NULL,
    action text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    state text NOT NULL DEFAULT 'ready',
    not_before timestamptz NOT NULL DEFAULT now(),
    claimed_epoch bigint,
    claimed_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_ready ON outbox (partition, not_before, id) WHERE state = 'ready';
CREATE INDEX outbox_by_order ON outbox (order_id, id);

-- orders.events.v1 records not acknowledged by Kafka yet (serialized OrderEvent).
CREATE TABLE event_outbox (
    id bigserial PRIMARY KEY,
    partition integer NOT NULL,
    order_id uuid NOT NULL,
    version integer NOT NULL,
    payload bytea NOT NULL
);
CREATE INDEX event_outbox_by_partition ON event_outbox (partition, id);

-- Emulated triggers, fired once: the firing and the order's change commit together.
CREATE TABLE triggers (
    order_id uuid PRIMARY KEY,
    account_id text NOT NULL,
    exchange text NOT NULL,
    symbol text NOT NULL,
    partition integer NOT NULL,
    kind text NOT NULL,             -- 'price' (stop / take-profit), 'trailing', 'entry' (bracket exit)
    direction text NOT NULL,        -- 'up': fires at or above the level; 'down': at or below
    trigger_price numeric,          -- the level ('trailing': follows the watermark)
    trailing_value numeric,
    trailing_unit text,
    activation_price numeric,       -- 'trailing': follows only once a trade reached it
    active boolean NOT NULL DEFAULT true,
    watermark numeric,              -- 'trailing': best price since activation
    fired_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triggers_armed ON triggers (exchange, symbol) WHERE fired_at IS NULL;

CREATE TABLE order_lists (
    list_id uuid PRIMARY KEY,
    account_id text NOT NULL,
    exchange text NOT NULL,
    symbol text NOT NULL,
    partition integer NOT NULL,
    kind text NOT NULL,             -- 'oco', 'bracket'
    idempotency_key text NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Pre-trade risk: limits per scope ('platform' / '', 'exchange' / id, 'account' / id,
-- 'instrument' / 'exchange:BASE/QUOTE'), kill switches per level, changed at run time.
CREATE TABLE risk_limits (
    scope text NOT NULL,
    scope_id text NOT NULL,
    limits jsonb NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, scope_id)
);

CREATE TABLE kill_switches (
    level text NOT NULL,            -- 'platform', 'exchange', 'account'
    scope_id text NOT NULL,         -- '' for the platform
    state text NOT NULL,            -- 'active', 'reducing', 'halted'
    reason text NOT NULL DEFAULT '',
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (level, scope_id)
);

-- What each account usually does, for the anomaly guard.
CREATE TABLE account_profiles (
    account_id text PRIMARY KEY,
    data jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Traded notional and realized result per account and UTC day; positions at average cost.
CREATE TABLE daily_usage (
    account_id text NOT NULL,
    day date NOT NULL,
    traded_notional numeric NOT NULL DEFAULT 0,
    realized_pnl numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day)
);

CREATE TABLE positions (
    account_id text NOT NULL,
    exchange text NOT NULL,
    symbol text NOT NULL,
    quantity numeric NOT NULL DEFAULT 0,
    cost numeric NOT NULL DEFAULT 0,  -- of the quantity held, in the quote asset
    PRIMARY KEY (account_id, exchange, symbol)
);

-- Where the reconcile pass resumes reading each venue account's fills.
CREATE TABLE fill_cursors (
    account_id text NOT NULL,
    exchange text NOT NULL,
    symbol text NOT NULL,
    cursor text NOT NULL,
    PRIMARY KEY (account_id, exchange, symbol)
);
