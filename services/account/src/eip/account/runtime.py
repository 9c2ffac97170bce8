"""The account service's moving parts, wired once: storage, the price graph and its feed, the
balance publisher, the sync manager and the three consumers, started after the runtime's
dependencies (Kafka and PostgreSQL open in the background) and stopped before them.

Consumers and their groups:

- ``auth.credentials.v1`` in the shared group ``ACCOUNT_GROUP_ID``, with the sync manager as
  rebalance listener: the owner of a credential's partition owns its connection;
- ``md.tickers.v1`` and ``orders.events.v1`` in a group per instance from the latest offset:
  every instance needs every current price, and every instance refreshes the connections it
  owns when one of their fills goes by.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from eip.account.auth_clients import AuthClients
from eip.account.manager import SyncManager
from eip.account.market_data import MarketDataClient
from eip.account.prices import TickerFeed
from eip.account.publisher import BalancePublisher
from eip.account.settings import AccountSettings
from eip.account.store import AccountStore
from eip.account.sync import SyncSettings
from eip.account.valuation import PriceGraph
from eip.account.venues import AdapterFactory, TransferFactory, adapter_factory, transfer_factory
from eip.bus import Consumer, ConsumerConfig, Producer
from eip.bus.consumer import Handler
from eip.events.topics import (
    ACCOUNT_BALANCES,
    AUTH_CREDENTIALS,
    MD_TICKERS,
    ORDERS_EVENTS,
    TopicSpec,
)
from eip.observability.redaction import register_secret
from eip.runtime.dependencies import Dependencies

log = logging.getLogger(__name__)
STOP_S = 5.0


@dataclasses.dataclass(frozen=True)
class Topics:
    balances: TopicSpec
    tickers: TopicSpec
    credentials: TopicSpec
    order_events: TopicSpec

    @classmethod
    def from_settings(cls, s: AccountSettings) -> Topics:
        return cls(
            dataclasses.replace(ACCOUNT_BALANCES, name=s.balances_topic),
            dataclasses.replace(MD_TICKERS, name=s.tickers_topic),
            dataclasses.replace(AUTH_CREDENTIALS, name=s.credentials_topic),
            dataclasses.replace(ORDERS_EVENTS, name=s.order_events_topic),
        )


class AccountRuntime:
    def __init__(
        self,
        settings: AccountSettings,
        deps: Dependencies,
        *,
        adapters: AdapterFactory | None = None,
        topics: Topics | None = None,
        adapter_options: Mapping[str, Any] | None = None,
        transfers: TransferFactory | None = None,
    ) -> None:
        self.settings = settings
        self.deps = deps
        self.topics = topics or Topics.from_settings(settings)
        self.store = AccountStore(lambda: deps.db, settings.db_schema, settings.connect_timeout_s)
        self.graph = PriceGraph(
            max_age_s=settings.price_max_age_s,
            bridges=tuple(settings.bridge_assets),
            usd_stablecoins=frozenset(settings.usd_stablecoins),
        )
        self.tickers = TickerFeed(self.graph)
        self.publisher = BalancePublisher(
            self.store,
            lambda: deps.producer,
            self.topics.balances,
            self.graph,
            settings.default_quote,
        )
        secret = settings.auth_client_secret.get_secret_value()
        register_secret(secret)
        self.auth: AuthClients | None = None
        if secret:
            self.auth = AuthClients(settings.auth_url, settings.auth_client_id, secret)
        if adapters is None and self.auth is not None:
            adapters = adapter_factory(self.auth, settings.exchange_urls, adapter_options)
            transfers = transfers or transfer_factory()
        self.market_data = MarketDataClient(
            settings.market_data_url, self.auth.market.token if self.auth else None
        )
        self.manager = SyncManager(
            self.store,
            adapters,
            self.publisher,
            SyncSettings(
                reconcile_interval_s=settings.reconcile_interval_s,
                trade_sync_interval_s=settings.trade_sync_interval_s,
                trade_page_limit=settings.trade_page_limit,
                transfer_sync_interval_s=settings.transfer_sync_interval_s,
                transfer_sync_intervals=dict(settings.transfer_sync_intervals),
                transfer_page_limit=settings.transfer_page_limit,
                transfers_refused_retry_s=settings.transfers_refused_retry_s,
                retry_base_delay_s=settings.retry_base_delay_s,
                retry_max_delay_s=settings.retry_max_delay_s,
            ),
            auth=self.auth,
            partitions=self.topics.credentials.partitions,
            transfers=transfers,
        )
        self.ready = asyncio.Event()  # migrations applied
        self._consumers: list[Consumer] = []

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._supervise(), name="account-runtime")
        try:
            yield
        finally:
            for consumer in self._consumers:
                consumer.stop()
            try:
                await asyncio.wait_for(asyncio.shield(task), STOP_S)
            except (TimeoutError, Exception):
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await self.manager.stop_all()
            await self.market_data.aclose()
            if self.auth is not None:
                await self.auth.aclose()

    async def _supervise(self) -> None:
        await self._until(self.store.migrate, "account schema not migrated yet")
        self.ready.set()
        producer = await self._producer()
        await self.tickers.seed(self.market_data)
        s = self.settings
        instance = uuid.uuid4().hex[:12]

        def every_instance(name: str, topic: TopicSpec, handler: Handler) -> Consumer:
            # a group of this instance's own, from the latest offset: only what comes now
            config = ConsumerConfig(
                s.kafka_bootstrap_servers,
                f"account-{name}-{instance}",
                f"account-{name}",
                auto_offset_reset="latest",
            )
            return Consumer(config, [topic], handler, producer)

        consumers = [
            Consumer(
                ConsumerConfig(s.kafka_bootstrap_servers, s.group_id, "account-credentials"),
                [self.topics.credentials],
                self.manager.handle_credential_event,
                producer,
                rebalance_listener=self.manager,
            ),
            every_instance("prices", self.topics.tickers, self.tickers.handle),
            every_instance("orders", self.topics.order_events, self.manager.handle_order_event),
        ]
        self._consumers = consumers
        async with asyncio.TaskGroup() as group:
            for consumer in consumers:
                group.create_task(self._consume(consumer))
            group.create_task(self._maintain())

    async def _consume(self, consumer: Consumer) -> None:
        await self._until(consumer.start, "consumer not started yet")
        await consumer.run()

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(3600)
            with contextlib.suppress(Exception):
                await self.store.maintain_partitions()
                days = self.settings.balance_history_retention_days
                if days is not None:
                    await self.store.drop_history_before(datetime.now(UTC) - timedelta(days=days))

    async def _producer(self) -> Producer:
        # The runtime opens Kafka in the background and offers no event for it: poll.
        while True:
            producer = self.deps.producer
            if producer is not None:
                return producer
            await asyncio.sleep(0.2)

    async def _until(self, step: Callable[[], Awaitable[object]], what: str) -> None:
        delay = 0.5
        while True:
            try:
                await step()
                return
            except Exception as exc:
                log.warning(what, extra={"error": f"{type(exc).__name__}: {exc}"})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
