-- Rules, their versions and evaluation state, firings, the command outbox (docs/AUTOMATION.md).

-- A rule as it stands: its current version's definition and its status.
CREATE TABLE rules (
    rule_id uuid PRIMARY KEY,
    account_id text NOT NULL,
    name text NOT NULL,
    version bigint NOT NULL,
    definition jsonb NOT NULL,
    status text NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'deleted')),
    status_reason text NOT NULL DEFAULT '',
    consecutive_errors integer NOT NULL DEFAULT 0,
    firings integer NOT NULL DEFAULT 0,  -- of every version
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL
);
CREATE INDEX rules_account ON rules (account_id) WHERE status <> 'deleted';

-- Every definition a rule had, kept after it changes.
CREATE TABLE rule_versions (
    rule_id uuid NOT NULL REFERENCES rules (rule_id),
    version bigint NOT NULL,
    definition jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    PRIMARY KEY (rule_id, version)
);

-- What evaluation must not forget across restarts and hand-overs: the condition's last known
-- truth (NULL: not observed yet), how many times this version fired (the trigger sequence) and
-- the last cron instant handled. Changed only by compare-and-set, so two instances that both
-- believe they own an account still fire once.
CREATE TABLE rule_state (
    rule_id uuid NOT NULL REFERENCES rules (rule_id),
    version bigint NOT NULL,
    level boolean,
    trigger_seq bigint NOT NULL DEFAULT 0,
    last_instant timestamptz,
    last_fired_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, version)
);

-- One row per firing; firing_id = rule id:version:trigger is the command's idempotency key.
CREATE TABLE firings (
    firing_id text PRIMARY KEY,
    rule_id uuid NOT NULL REFERENCES rules (rule_id),
    version bigint NOT NULL,
    account_id text NOT NULL,
    trigger text NOT NULL,
    fired_at timestamptz NOT NULL,
    action text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('command', 'alert', 'refused', 'error')),
    reason text NOT NULL DEFAULT '',
    notional numeric,
    command_id uuid
);
CREATE INDEX firings_rule ON firings (rule_id, fired_at DESC);

-- Commands for order management, written in the firing's transaction; the relay publishes
-- them to orders.commands.v1 (key account) and stamps published_at once Kafka acknowledged.
CREATE TABLE command_outbox (
    id bigserial PRIMARY KEY,
    firing_id text NOT NULL UNIQUE REFERENCES firings (firing_id),
    account_id text NOT NULL,
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX command_outbox_pending ON command_outbox (id) WHERE published_at IS NULL;

-- Rule changes for automation.rules.v1 (key account), published after the commit.
CREATE TABLE change_outbox (
    id bigserial PRIMARY KEY,
    account_id text NOT NULL,
    payload bytea NOT NULL,
    published_at timestamptz
);
CREATE INDEX change_outbox_pending ON change_outbox (id) WHERE published_at IS NULL;

-- Cross-exchange opportunities and their lifetimes (one row per appearance).
CREATE TABLE arbitrage_opportunities (
    opportunity_id uuid PRIMARY KEY,
    symbol text NOT NULL,
    buy_exchange text NOT NULL,
    sell_exchange text NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    closed_at timestamptz,
    size numeric NOT NULL,
    net_profit numeric NOT NULL,
    net_profit_bps numeric NOT NULL,
    peak_size numeric NOT NULL,
    peak_net_profit numeric NOT NULL,
    last jsonb NOT NULL
);
CREATE INDEX arbitrage_open ON arbitrage_opportunities (symbol, buy_exchange, sell_exchange)
    WHERE closed_at IS NULL;
CREATE INDEX arbitrage_seen ON arbitrage_opportunities (last_seen DESC);

-- Spread between two venues over time, one point per pair and second at most, for the chart.
CREATE TABLE arbitrage_spreads (
    symbol text NOT NULL,
    buy_exchange text NOT NULL,
    sell_exchange text NOT NULL,
    at timestamptz NOT NULL,
    spread_bps numeric NOT NULL,
    PRIMARY KEY (symbol, buy_exchange, sell_exchange, at)
);
