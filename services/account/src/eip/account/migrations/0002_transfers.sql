-- Deposits and withdrawals per connection, where the venue reports them (TransferHistory),
-- and where each connection's read of them stopped (per kind), written in the transaction of
-- the rows it covers. A transfer is one row per (connection, kind, venue id), updated as the
-- venue's status moves on (pending → completed/failed); seq is arrival order for paging.

CREATE TABLE transfers (
    credential_id text NOT NULL,
    account_id text NOT NULL,
    exchange text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
    transfer_id text NOT NULL,
    asset text NOT NULL,
    amount numeric NOT NULL,
    fee numeric,
    status text NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
    venue_status text NOT NULL,
    network text,
    tx_id text,
    address text,
    time timestamptz NOT NULL,
    completed_time timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    seq bigserial NOT NULL,
    PRIMARY KEY (credential_id, kind, transfer_id)
);
CREATE INDEX transfers_account_time ON transfers (account_id, time, seq);

CREATE TABLE transfer_cursors (
    credential_id text NOT NULL,
    kind text NOT NULL,
    cursor_value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (credential_id, kind)
);
