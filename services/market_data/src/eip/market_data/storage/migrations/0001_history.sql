-- Trades and candles partitioned by time, so a time-range query touches only its partitions
-- and retention is a DROP. Partitions are created by the store (ahead of time and on demand for
-- backfilled dates), never here.

-- time is the exchange time when the venue sends one, else the received time: the partition
-- key must be in the primary key, and a trade without a venue time still needs a place.
CREATE TABLE trades (
    exchange text NOT NULL,
    symbol text NOT NULL,
    trade_id text NOT NULL,
    time timestamptz NOT NULL,
    exchange_time timestamptz,
    received_time timestamptz NOT NULL,
    price numeric NOT NULL CHECK (price > 0),
    amount numeric NOT NULL CHECK (amount >= 0),
    taker_side text CHECK (taker_side IN ('buy', 'sell')),
    -- the id as an integer when the venue's ids are integers: gap detection by id ranges
    trade_seq bigint,
    PRIMARY KEY (exchange, symbol, trade_id, time)
) PARTITION BY RANGE (time);

CREATE INDEX trades_by_time ON trades (exchange, symbol, time);

CREATE TABLE candles (
    exchange text NOT NULL,
    symbol text NOT NULL,
    timeframe text NOT NULL CHECK (timeframe IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    open_time timestamptz NOT NULL,
    open numeric NOT NULL,
    high numeric NOT NULL,
    low numeric NOT NULL,
    close numeric NOT NULL,
    base_volume numeric NOT NULL,
    quote_volume numeric,
    trade_count bigint,
    closed boolean NOT NULL,
    received_time timestamptz NOT NULL,
    PRIMARY KEY (exchange, symbol, timeframe, open_time)
) PARTITION BY RANGE (open_time);

CREATE TABLE backfill_jobs (
    id bigserial PRIMARY KEY,
    exchange text NOT NULL,
    symbol text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('trades', 'ohlcv')),
    timeframe text CHECK (timeframe IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    range_start timestamptz NOT NULL,
    range_end timestamptz NOT NULL CHECK (range_end > range_start),
    -- where the next page starts; advanced in the same transaction as the page's rows
    cursor_time timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    pages bigint NOT NULL DEFAULT 0,
    rows_fetched bigint NOT NULL DEFAULT 0,
    rows_inserted bigint NOT NULL DEFAULT 0,
    gaps integer,
    error text,
    parent_id bigint REFERENCES backfill_jobs (id),
    -- a running job whose lease expired belongs to a dead worker and is taken over
    lease_until timestamptz,
    -- the worker holding the lease: a worker that lost its lease cannot write pages any more
    lease_owner text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CHECK ((kind = 'ohlcv') = (timeframe IS NOT NULL))
);

CREATE INDEX backfill_jobs_pending ON backfill_jobs (status, id)
    WHERE status IN ('queued', 'running');
