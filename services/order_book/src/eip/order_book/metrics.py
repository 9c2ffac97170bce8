from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS = Counter(
    "eip_order_book_events_total",
    "Feed events handled, by kind (snapshot, delta, desync)",
    ["exchange", "symbol", "kind"],
)
DESYNCS = Counter(
    "eip_order_book_desyncs_total",
    "Books that went out of sync, by reason (gap, checksum, crossed, stale, disconnected, error)",
    ["exchange", "symbol", "reason"],
)
DROPPED = Counter(
    "eip_order_book_dropped_deltas_total",
    "Deltas not published because the book was not in sync or the outbox was full",
    ["exchange", "symbol", "reason"],
)
IN_SYNC = Gauge("eip_order_book_in_sync", "1 while the book is in sync", ["exchange", "symbol"])
EPOCH = Gauge("eip_order_book_epoch", "The book's current epoch", ["exchange", "symbol"])
PUBLISH_FAILURES = Counter(
    "eip_order_book_publish_failures_total",
    "Records Kafka did not accept; the book starts a new epoch",
    ["topic"],
)
OUTBOX = Gauge("eip_order_book_outbox_records", "Records waiting to be sent to Kafka")
VIEW_MISMATCHES = Counter(
    "eip_order_book_view_mismatches_total",
    "Periodic checks that found the published view different from the feed's book",
    ["exchange", "symbol"],
)
