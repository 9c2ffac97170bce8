"""The registry of every Kafka topic the platform owns: name, payload schema, key, and config.

This is the single place where topic names, partition counts and retention are decided; the
producer, the consumer and the ``create-topics`` command all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from google.protobuf.message import Message

from eip.events.v1 import (
    account_pb2,
    auth_pb2,
    automation_pb2,
    market_data_pb2,
    order_book_pb2,
    orders_pb2,
)

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    payload: type[Message]
    key: str  # how the record key is formed, documentation for producers and consumers
    partitions: int = 3
    compacted: bool = False
    retention_ms: int = 7 * DAY_MS
    extra_config: Mapping[str, str] = field(default_factory=dict)

    @property
    def dlq_name(self) -> str:
        return f"{self.name}.dlq"

    def config(self) -> dict[str, str]:
        cfg = {
            "cleanup.policy": "compact" if self.compacted else "delete",
            "retention.ms": str(-1 if self.compacted else self.retention_ms),
        }
        if self.compacted:
            # Compact often enough that a consumer bootstrapping from the topic reads few
            # superseded records.
            cfg["min.cleanable.dirty.ratio"] = "0.1"
            cfg["segment.ms"] = str(DAY_MS)
        cfg.update(self.extra_config)
        return cfg


MD_TRADES = TopicSpec("md.trades.v1", market_data_pb2.Trade, "exchange:symbol", partitions=6)
MD_TICKERS = TopicSpec("md.tickers.v1", market_data_pb2.Ticker, "exchange:symbol", partitions=6)
MD_CANDLES = TopicSpec(
    "md.candles.v1",
    market_data_pb2.Candle,
    "exchange:symbol:timeframe",
    partitions=6,
    retention_ms=30 * DAY_MS,
)
MD_BOOK_DELTAS = TopicSpec(
    "md.book.deltas.v1",
    order_book_pb2.BookDelta,
    "exchange:symbol",
    partitions=6,
    retention_ms=1 * DAY_MS,
)
MD_BOOK_SNAPSHOTS = TopicSpec(
    "md.book.snapshots.v1",
    order_book_pb2.BookSnapshot,
    "exchange:symbol",
    partitions=6,
    compacted=True,
)
ACCOUNT_BALANCES = TopicSpec(
    "account.balances.v1",
    account_pb2.Balance,
    "account:exchange:asset",
    compacted=True,
)
ORDERS_COMMANDS = TopicSpec(
    "orders.commands.v1",
    orders_pb2.OrderCommand,
    "account",
    retention_ms=30 * DAY_MS,
)
ORDERS_EVENTS = TopicSpec(
    "orders.events.v1",
    orders_pb2.OrderEvent,
    "order id",
    retention_ms=90 * DAY_MS,
)
AUTH_CREDENTIALS = TopicSpec(
    "auth.credentials.v1",
    auth_pb2.CredentialEvent,
    "credential id",
    retention_ms=365 * DAY_MS,
)
# The audit trail of record is PostgreSQL; the topic feeds downstream monitoring. One partition
# keeps the chain in order for a consumer that verifies it.
AUDIT_EVENTS = TopicSpec(
    "audit.events.v1",
    auth_pb2.AuditEvent,
    "actor",
    partitions=1,
    retention_ms=365 * DAY_MS,
)

# Rule changes, keyed by account: the automation instances' consumer group splits its
# partitions, and with them the accounts whose rules each instance evaluates.
AUTOMATION_RULES = TopicSpec(
    "automation.rules.v1",
    automation_pb2.RuleChange,
    "account",
    retention_ms=7 * DAY_MS,
)
ALERTS_ARBITRAGE = TopicSpec(
    "alerts.arbitrage.v1",
    automation_pb2.ArbitrageOpportunity,
    "symbol",
    retention_ms=7 * DAY_MS,
)
# Arbitrage executions' state changes, keyed by account; state "failed" is an alert.
ALERTS_ARBITRAGE_EXECUTIONS = TopicSpec(
    "alerts.arbitrage.executions.v1",
    automation_pb2.ArbitrageExecution,
    "account",
    retention_ms=30 * DAY_MS,
)

TOPICS: Mapping[str, TopicSpec] = {
    t.name: t
    for t in (
        MD_TRADES,
        MD_TICKERS,
        MD_CANDLES,
        MD_BOOK_DELTAS,
        MD_BOOK_SNAPSHOTS,
        ACCOUNT_BALANCES,
        ORDERS_COMMANDS,
        ORDERS_EVENTS,
        AUTH_CREDENTIALS,
        AUDIT_EVENTS,
        AUTOMATION_RULES,
        ALERTS_ARBITRAGE,
        ALERTS_ARBITRAGE_EXECUTIONS,
    )
}


def dlq_spec(source: TopicSpec) -> TopicSpec:
    """The dead-letter topic of ``source``: raw bytes of failed records, kept for 14 days."""
    return TopicSpec(
        source.dlq_name,
        source.payload,
        source.key,
        partitions=1,
        retention_ms=14 * DAY_MS,
    )


def all_topic_specs() -> list[TopicSpec]:
    """Every topic to create: each registered topic and its dead-letter topic."""
    return [spec for t in TOPICS.values() for spec in (t, dlq_spec(t))]


def record_key(*parts: str) -> bytes:
    """A record key from its parts, joined as the registry documents (``exchange:symbol``)."""
    if not parts or any(not p for p in parts):
        raise ValueError(f"every key part must be non-empty (got {parts!r})")
    return ":".join(parts).encode()
