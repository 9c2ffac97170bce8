-- The account service's schema: connections (credential ↔ platform account), current balances,
-- balance history (daily partitions, created ahead by the service), own fills with their
-- resumable cursors, and what was last published to account.balances.v1.

CREATE TABLE connections (
    credential_id text PRIMARY KEY,
    account_id text NOT NULL,
    exchange text NOT NULL,
    state text NOT NULL CHECK (state IN ('syncing', 'live', 'degraded', 'revoked')),
    reason text,                         -- why degraded (or revoked)
    permissions text[] NOT NULL DEFAULT '{}',
    ip_restricted boolean,
    credential_version bigint,
    label text,
    last_balance_at timestamptz,
    last_trade_sync_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_account ON connections (account_id);

-- Current balances per connection; a wallet apart from spot (earn, staked...) is its own row.
CREATE TABLE balances (
    credential_id text NOT NULL REFERENCES connections (credential_id) ON DELETE CASCADE,
    asset text NOT NULL,
    wallet text NOT NULL DEFAULT 'spot',
    free numeric NOT NULL,
    locked numeric NOT NULL,
    updated_at timestamptz NOT NULL,
    source text NOT NULL,                -- 'rest', 'stream'
    PRIMARY KEY (credential_id, asset, wallet)
);

-- Every change of a balance, for value-over-time curves.
CREATE TABLE balance_history (
    ts timestamptz NOT NULL,
    credential_id text NOT NULL,
    account_id text NOT NULL,
    exchange text NOT NULL,
    asset text NOT NULL,
    wallet text NOT NULL,
    free numeric NOT NULL,
    locked numeric NOT NULL,
    source text NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX balance_history_account_ts ON balance_history (account_id, ts);

-- Own fills. A fill is unique by (connection, symbol, trade id, venue order id): an account
-- trading with itself has both sides of one trade under one trade id.
CREATE TABLE fills (
    credential_id text NOT NULL,
    account_id text NOT NULL,
    exchange text NOT NULL,
    symbol text NOT NULL,
    trade_id text NOT NULL,
    venue_order_id text NOT NULL,
    client_order_id text,
    side text NOT NULL CHECK (side IN ('buy', 'sell')),
    price numeric NOT NULL,
    quantity numeric NOT NULL,
    fee numeric NOT NULL,
    fee_asset text,
    liquidity text,
    time timestamptz NOT NULL,
    source text NOT NULL,                -- 'rest' (cursor sync) or 'stream'
    seq bigserial NOT NULL,              -- arrival order, for stable cursor paging
    PRIMARY KEY (credential_id, symbol, trade_id, venue_order_id)
);
CREATE INDEX fills_account_time ON fills (account_id, time, seq);

-- Where each connection's fill history read stopped, per symbol ('' when the venue's history
-- is not per symbol); written in the transaction of the rows it covers.
CREATE TABLE fill_cursors (
    credential_id text NOT NULL,
    symbol text NOT NULL,
    cursor_symbol text,
    cursor_value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (credential_id, symbol)
);

-- The last record published per account.balances.v1 key: publish only on change, also across
-- restarts.
CREATE TABLE published_balances (
    key text PRIMARY KEY,
    free numeric NOT NULL,
    locked numeric NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
