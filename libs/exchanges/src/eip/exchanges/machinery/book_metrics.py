"""Book feed health in Prometheus (the process registry ``eip.observability`` exposes at
/metrics)."""

from __future__ import annotations

from prometheus_client import Counter

DESYNCS = Counter(
    "eip_order_book_feed_desyncs_total",
    "Books that stopped being trusted, by reason (gap, checksum, crossed, stale, ...)",
    ["exchange", "reason"],
)
RESYNCS = Counter(
    "eip_order_book_feed_resyncs_total",
    "Books rebuilt from a fresh snapshot",
    ["exchange"],
)
CHECKSUMS = Counter(
    "eip_order_book_feed_checksums_total",
    "Venue checksums compared with the local book, by outcome (match, mismatch)",
    ["exchange", "outcome"],
)
RECONNECTS = Counter(
    "eip_order_book_feed_reconnects_total",
    "WebSocket connections re-opened after a loss",
    ["exchange"],
)
