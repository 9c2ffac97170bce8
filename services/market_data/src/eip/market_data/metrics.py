from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS = Counter(
    "eip_market_data_events_total",
    "Trades and tickers received from adapters",
    ["exchange", "kind"],
)
OUTBOX = Gauge("eip_market_data_outbox_records", "Records waiting to be sent to Kafka")
OUTBOX_DROPPED = Counter(
    "eip_market_data_outbox_dropped_total",
    "Records dropped because the outbox was full (Kafka slower than the exchanges)",
    ["topic"],
)
PUBLISH_FAILURES = Counter(
    "eip_market_data_publish_failures_total", "Records Kafka did not accept", ["topic"]
)
ADAPTER_RESTARTS = Counter(
    "eip_market_data_adapter_restarts_total",
    "Adapter run() loops that crashed and were restarted",
    ["exchange"],
)
CANDLES = Counter("eip_market_data_candles_total", "Candles published", ["timeframe", "state"])
LATE_TRADES = Counter(
    "eip_market_data_late_trades_total",
    "Trades for a candle interval that had already closed (not counted in any candle)",
)
BACKFILL_CROWDED_INSTANTS = Counter(
    "eip_market_data_backfill_crowded_instants_total",
    "Instants with more trades than a page holds on a venue that pages only by time: the trades"
    " of that millisecond beyond the first page are not backfilled",
    ["exchange"],
)
