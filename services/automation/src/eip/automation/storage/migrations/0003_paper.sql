-- Paper mode: a rule's orders simulated against the live book, kept apart from real firings'
-- commands (no command is written for them).

ALTER TABLE firings DROP CONSTRAINT firings_outcome_check;
ALTER TABLE firings ADD CONSTRAINT firings_outcome_check
    CHECK (outcome IN ('command', 'alert', 'refused', 'error', 'schedule', 'paper'));

CREATE TABLE paper_fills (
    firing_id text PRIMARY KEY REFERENCES firings (firing_id),
    rule_id uuid NOT NULL REFERENCES rules (rule_id),
    account_id text NOT NULL,
    exchange text NOT NULL,
    symbol text NOT NULL,
    side text NOT NULL CHECK (side IN ('buy', 'sell')),
    filled_size numeric NOT NULL,
    filled_notional numeric NOT NULL,
    average_price numeric,
    fee numeric NOT NULL,          -- taker fee on the notional, in quote
    slippage_vs_mid_bps numeric,   -- positive: worse than the mid for the taker
    complete boolean NOT NULL,     -- false: the book (or the limit price) did not cover it all
    fired_at timestamptz NOT NULL
);
CREATE INDEX paper_fills_rule ON paper_fills (rule_id, fired_at DESC);
