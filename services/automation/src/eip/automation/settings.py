"""The automation service's settings (prefix ``AUTOMATION_``)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from eip.config import ProtectedServiceSettings

_SCHEMA = r"^[a-z_][a-z0-9_]{0,62}$"


class AutomationSettings(ProtectedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTOMATION_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "automation"

    http_port: int = Field(default=8107, ge=0, le=65535)

    # PostgreSQL: the service's own tables, and the platform audit chain it appends to.
    db_schema: str = Field(default="automation", pattern=_SCHEMA)
    audit_schema: str = Field(default="audit", pattern=_SCHEMA)

    # Topics: the registry's names (a test or a second platform on one Kafka gives others).
    tickers_topic: str = Field(default="md.tickers.v1", min_length=1)
    trades_topic: str = Field(default="md.trades.v1", min_length=1)
    candles_topic: str = Field(default="md.candles.v1", min_length=1)
    book_snapshots_topic: str = Field(default="md.book.snapshots.v1", min_length=1)
    book_deltas_topic: str = Field(default="md.book.deltas.v1", min_length=1)
    commands_topic: str = Field(default="orders.commands.v1", min_length=1)
    order_events_topic: str = Field(default="orders.events.v1", min_length=1)
    rules_topic: str = Field(default="automation.rules.v1", min_length=1)
    arbitrage_topic: str = Field(default="alerts.arbitrage.v1", min_length=1)
    arbitrage_executions_topic: str = Field(default="alerts.arbitrage.executions.v1", min_length=1)
    audit_topic: str = Field(default="audit.events.v1", min_length=1)

    # Rule evaluation. Accounts are owned through the consumer group of the rules topic (key =
    # account): an instance evaluates the rules of the accounts of the partitions it holds.
    evaluation_enabled: bool = True
    group_id: str = Field(default="automation", min_length=1)
    # This instance's name: the suffix of its own market-data consumer group (every instance
    # reads every market; default: host name and a random suffix).
    instance_id: str = Field(default="", max_length=120)
    # A rule that fails (or whose command is refused) this many times in a row pauses itself.
    max_consecutive_errors: int = Field(default=3, ge=1, le=1000)
    # Reading an indicator's history back from md.candles.v1 gives up after this long (the
    # indicator then starts from the live candles).
    indicator_warmup_timeout_s: float = Field(default=30.0, gt=0, le=600)
    # How often cron rules are looked at, and the outbox relayed after a missed publish.
    tick_interval_s: float = Field(default=1.0, gt=0, le=60)
    # A firing transaction still running after this long (waiting on a locked rule row: it
    # holds the evaluation of every rule of the instance meanwhile) is a stall: logged, on
    # /readyz (``evaluation_stalled``) and in eip_automation_oldest_firing_age_seconds.
    firing_stall_after_s: float = Field(default=10.0, gt=0, le=3600)
    # While a stall lasts, its warning is repeated this often.
    firing_stall_log_interval_s: float = Field(default=30.0, gt=0, le=3600)
    # A firing waits at most this long for its rule's row lock (0: as long as it takes); then
    # nothing is written and the rule is tried again after firing_lock_retry_s, so one locked
    # rule does not hold the evaluation of the others.
    firing_lock_timeout_s: float = Field(default=5.0, ge=0, le=3600)
    firing_lock_retry_s: float = Field(default=10.0, gt=0, le=3600)

    # Webhooks: the key every webhook's signing key is derived from (a Secret; empty: webhooks
    # cannot be registered), how many times a delivery is tried and the first retry's delay.
    webhook_signing_key: SecretStr = Field(default=SecretStr(""))
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    webhook_retry_base_s: float = Field(default=1.0, gt=0, le=3600)

    # Arbitrage detection from md.book.snapshots.v1 / md.book.deltas.v1.
    arbitrage_enabled: bool = True
    # exchange -> taker fee rate (a fraction: 0.001 = 0.1 %); a venue not listed pays
    # arbitrage_default_taker_fee.
    taker_fees: dict[str, Decimal] = Field(default_factory=dict)
    arbitrage_default_taker_fee: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1)
    # Opportunities whose net profit is at or below this (quote units) are not reported.
    arbitrage_min_profit: Decimal = Field(default=Decimal(0), ge=0)
    # A book without a record for this long is stale and left out (the order-book service
    # publishes a snapshot of every in-sync book every 10 s).
    book_stale_after_s: float = Field(default=30.0, gt=0)
    # An opportunity not seen again for this long is closed (its lifetime ends).
    arbitrage_close_after_s: float = Field(default=5.0, gt=0)
