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
CLOCK_OFFSET = Gauge(
    "eip_md_venue_clock_offset_seconds",
    "Estimated offset of the venue's clock from ours (exchange time minus received time, 95th"
    " percentile over a minute of stream events; positive: the venue is ahead)",
    ["exchange"],
)
CLOCK_OFFSET_ALARM = Gauge(
    "eip_md_venue_clock_offset_alarm",
    "1 while the venue's estimated clock offset exceeds MARKET_DATA_CLOCK_OFFSET_ALARM_S",
    ["exchange"],
)
CLOCK_OFFSET_ALARMS = Counter(
    "eip_md_venue_clock_offset_alarms_total",
    "Times the venue's estimated clock offset went above the alarm threshold",
    ["exchange"],
)
TRADES_RECOVERED = Counter(
    "eip_md_trades_recovered_total",
    "Trades missed by the live stream (restart, reconnect, stall, a lost publish) fetched over"
    " REST and published to md.trades.v1",
    ["exchange"],
)
TRADES_DUPLICATE = Counter(
    "eip_md_trades_duplicates_dropped_total",
    "Live trades not published because they were already (the stream delivered them late)",
    ["exchange"],
)
TRADES_RECOVERY_TRUNCATED = Counter(
    "eip_md_trades_recovery_truncated_total",
    "Gaps beyond the catch-up bound (age or pages), queued as backfill jobs instead",
    ["exchange"],
)
TRADES_RECOVERY_FAILURES = Counter(
    "eip_md_trades_recovery_failures_total",
    "Fills of missed trades that failed (REST or Kafka unavailable past the retries)",
    ["exchange"],
)
