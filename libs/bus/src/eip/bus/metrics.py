from __future__ import annotations

from prometheus_client import Counter, Gauge

PUBLISHED = Counter("eip_bus_published_total", "Records published", ["topic"])
CONSUMED = Counter(
    "eip_bus_consumed_total",
    "Records consumed, by outcome (ok, dead_lettered)",
    ["topic", "group", "outcome"],
)
DEAD_LETTERED = Counter(
    "eip_bus_dead_lettered_total",
    "Records sent to a dead-letter topic",
    ["topic", "reason"],
)
HANDLER_RETRIES = Counter(
    "eip_bus_handler_retries_total",
    "Handler attempts that failed and were retried",
    ["topic", "group"],
)
CONSUMER_LAG = Gauge(
    "eip_bus_consumer_lag",
    "Records between the consumer's position and the partition's end",
    ["topic", "partition", "group"],
)
PRODUCER_RESETS = Counter(
    "eip_bus_producer_resets_total",
    "Idempotent producers replaced after their sequence broke (OutOfOrderSequenceNumber, fenced"
    " epoch): a batch lost in a broker outage leaves every later one refused otherwise",
    ["client"],
)
