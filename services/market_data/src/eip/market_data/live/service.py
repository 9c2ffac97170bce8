"""The live side: one adapter per exchange, each in its own task, their trades and tickers into
the outbox (→ Kafka), the latest tickers and the cross-exchange view, and subscriptions changed
while running.

Subscriptions changed over HTTP (``add``/``remove``) are stored in PostgreSQL
(``eip.storage.subscriptions``) before the answer, and applied on top of the configured ones at
start-up, so a restart keeps what operators added and removed.

An adapter's ``run`` reconnects by itself; if it crashes anyway it is restarted after a
jittered backoff. One exchange failing never touches the others' tasks.

Trades the stream missed (a restart, a reconnect, a stall, a lost publish) are fetched over
REST and published once by ``live.gaps.GapFiller``; each venue's clock offset is estimated
from its events (``eip.market_data.clock``). A watcher task looks at every adapter's status
twice a second for both. Every error counted (an adapter's, a failed subscription or fill, a
record Kafka refused) leaves its kind, text and time as ``last_error`` for ``/v1/status``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from prometheus_client import Counter

from eip.bus import Producer
from eip.events.topics import MD_TICKERS, MD_TRADES, TopicSpec, record_key
from eip.exchanges.contract.errors import TransientExchangeError
from eip.exchanges.contract.market_data import (
    ErrorNote,
    MarketDataAdapter,
    MarketEvent,
    StreamStatus,
    Ticker,
    Trade,
)
from eip.market_data.clock import VenueClocks
from eip.market_data.cross_exchange import CrossExchangeView
from eip.market_data.live.adapters import AdapterFactory, create_adapter
from eip.market_data.live.gaps import Backfill, GapFiller, GapSettings
from eip.market_data.live.outbox import KafkaPublisher, OutboundRecord, Outbox
from eip.market_data.metrics import ADAPTER_RESTARTS, EVENTS
from eip.market_data.settings import MarketDataSettings, SubscriptionConfig
from eip.market_data.wire import ticker_message, trade_message
from eip.resilience import RetryPolicy
from eip.storage import DatabaseUnavailable
from eip.storage.subscriptions import (
    SubscriptionChange,
    SubscriptionChanges,
    change_slot,
    effective,
    restore_or_fall_back,
)

log = logging.getLogger(__name__)

RESTART = RetryPolicy(attempts=10, base_delay_s=1.0, max_delay_s=30.0)
SHUTDOWN_DRAIN_S = 5.0
# How long start-up waits for the stored subscription changes before it starts the configured
# subscriptions alone (a database outage must not stop live data); the stored changes are
# applied as soon as they can be read.
RESTORE_WAIT_S = 10.0
WATCH_INTERVAL_S = 0.5  # how often the watcher looks at every adapter's status
YIELD_EVERY = 64  # events between two turns given to the event loop


@dataclass(frozen=True, slots=True)
class AdapterHealth:
    status: StreamStatus
    restarts: int
    last_error: ErrorNote | None


async def _no_backfill(exchange: str, symbol: str, start: datetime, end: datetime) -> None:
    raise RuntimeError("no history store to queue a backfill job in")


class LiveService:
    def __init__(
        self,
        settings: MarketDataSettings,
        producer: Callable[[], Producer | None],
        adapter_factory: AdapterFactory = create_adapter,
        trades_topic: TopicSpec = MD_TRADES,
        tickers_topic: TopicSpec = MD_TICKERS,
        changes: SubscriptionChanges | None = None,
        restore_wait_s: float = RESTORE_WAIT_S,
        backfill: Backfill = _no_backfill,
    ) -> None:
        """Without ``changes`` (benchmarks, pipeline tests) only the configured subscriptions
        run and ``add``/``remove`` answer ``DatabaseUnavailable``. ``backfill`` queues a
        backfill job for trades missed beyond the catch-up bound."""
        self.settings = settings
        self.outbox = Outbox(settings.outbox_size, on_drop=self._not_published)
        self.publisher = KafkaPublisher(self.outbox, producer, on_lost=self._not_published)
        self.cross = CrossExchangeView(settings.stale_after_s, settings.vwap_window_s)
        self.tickers: dict[tuple[str, str], Ticker] = {}
        self.last_trades: dict[tuple[str, str], Trade] = {}
        self.adapters: dict[str, MarketDataAdapter] = {}
        self._factory = adapter_factory
        self._trades_topic = trades_topic
        self._tickers_topic = tickers_topic
        self._subscriptions: set[SubscriptionConfig] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._restarts: dict[str, int] = {}
        self._last_error: dict[str, ErrorNote] = {}
        self.last_error: ErrorNote | None = None  # of the service (Kafka refused a record ...)
        self.clocks = VenueClocks(settings.clock_offset_alarm_s)
        self.gaps = GapFiller(
            GapSettings(
                settings.kafka_bootstrap_servers,
                trades_topic,
                frozenset(settings.history_sequential_id_exchanges),
                settings.gap_max_age_s,
                settings.gap_max_pages,
                settings.history_backfill_page_limit,
                settings.outbox_size,
            ),
            self.adapters.get,
            self._trade_markets,
            self._publish_trade,
            self.publisher.drain,
            backfill,
            lambda exchange, message: self._note(exchange, "recovery", message),
        )
        self._watcher: asyncio.Task[None] | None = None
        self._emitted = 0
        self._publisher_task: asyncio.Task[None] | None = None
        self._rest_only: dict[str, MarketDataAdapter] = {}
        self._pending: dict[SubscriptionConfig, asyncio.Task[None]] = {}
        self._counters: dict[tuple[str, str], Counter] = {}
        self._keys: dict[tuple[str, str], bytes] = {}
        self._changes = changes
        self._restore_wait_s = restore_wait_s
        # the runtime change behind each subscription made or kept by one; absent: from config
        self._runtime: dict[SubscriptionConfig, SubscriptionChange] = {}
        self._change_lock = asyncio.Lock()
        self.restored = asyncio.Event()
        self._restore_task: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LiveService]:
        """Start the publisher and the effective subscriptions (configured, plus and minus the
        stored runtime changes; ``restored`` is set once they run); one that fails is logged
        and the others go on."""
        self._publisher_task = asyncio.create_task(self.publisher.run(), name="md-publisher")
        self._watcher = asyncio.create_task(self._watch(), name="md-watch")
        try:
            if self._changes is None:
                await self._apply(dict.fromkeys(self.settings.subscriptions))
                self.restored.set()
            else:  # in the background: the app serves (health, status) meanwhile
                self._restore_task = asyncio.create_task(
                    self._start_subscriptions(), name="md-restore"
                )
            yield self
        finally:
            if self._restore_task is not None:
                self._restore_task.cancel()
                await asyncio.gather(self._restore_task, return_exceptions=True)
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            await self.gaps.close()
            tasks = [*self._tasks.values(), *self._pending.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.clear()
            for adapter in [*self.adapters.values(), *self._rest_only.values()]:
                try:
                    await adapter.close()
                except Exception as exc:
                    log.warning("adapter close failed", extra={"error": repr(exc)})
            if self.publisher.connected():
                try:
                    await asyncio.wait_for(self.publisher.drain(), SHUTDOWN_DRAIN_S)
                except Exception as exc:
                    log.warning(
                        "records left unpublished at shutdown",
                        extra={"records": len(self.outbox), "error": repr(exc)},
                    )
            self._publisher_task.cancel()
            await asyncio.gather(self._publisher_task, return_exceptions=True)

    async def _start_subscriptions(self) -> None:
        """The effective subscriptions once the stored changes are read; the configured ones
        alone meanwhile if that takes longer than ``restore_wait_s``."""

        async def configured_only() -> None:
            await self._apply(dict.fromkeys(self.settings.subscriptions))

        await restore_or_fall_back(
            self._restore,
            configured_only,
            self.restored,
            self._change_lock,
            self._restore_wait_s,
            "market-data",
        )

    async def _restore(self) -> None:
        """Read the stored changes (retried until PostgreSQL answers) and move to the effective
        set."""
        assert self._changes is not None
        stored = await self._changes.load_when_readable()
        configured = {_key(s): s for s in self.settings.subscriptions}
        target: dict[SubscriptionConfig, SubscriptionChange | None] = {}
        for key, change in effective(configured, stored).items():
            if change is None:
                target[configured[key]] = None
            else:
                try:
                    target[SubscriptionConfig.model_validate(change.subscription)] = change
                except ValueError as exc:  # a row an older version stored, or edited by hand
                    log.error(
                        "stored subscription change not understood; skipped",
                        extra={"key": key, "error": str(exc)[:300]},
                    )
        async with self._change_lock:
            await self._apply(target)
            self.restored.set()
        log.info(
            "subscriptions restored",
            extra={"configured": len(configured), "stored_changes": len(stored)},
        )

    async def _apply(self, target: dict[SubscriptionConfig, SubscriptionChange | None]) -> None:
        """Subscribe to ``target`` (each with the runtime change behind it) and drop the rest."""
        for sub in set(self._subscriptions) - set(target):
            try:
                await self.unsubscribe(sub)
            except Exception as exc:
                log.error(
                    "unsubscribe failed at start-up",
                    extra={**_fields(sub), "error": f"{type(exc).__name__}: {exc}"},
                )
        self._runtime = {s: c for s, c in target.items() if c is not None}
        for sub in target:
            try:
                await self.subscribe(sub)
            except Exception as exc:
                message = self._note(sub.exchange, "subscribe", _text(exc))
                log.error(
                    "subscription failed at start-up", extra={**_fields(sub), "error": message}
                )
        for exchange in list(self.adapters):
            self.gaps.started(exchange)  # its start-up subscriptions are in place

    def subscriptions(self) -> list[SubscriptionConfig]:
        return sorted(self._subscriptions, key=lambda s: (s.exchange, s.symbol, s.channel))

    def runtime_change(self, sub: SubscriptionConfig) -> SubscriptionChange | None:
        """The stored change that made ``sub`` a subscription; ``None``: it is configured."""
        return self._runtime.get(sub)

    async def add(self, sub: SubscriptionConfig, actor: str | None) -> bool:
        """``subscribe`` and store the change before returning; False when already subscribed.

        Raises what ``subscribe`` raises (nothing is stored then) and ``DatabaseUnavailable``
        when the change cannot be stored (the subscription is undone: nothing changed).
        """
        async with self._changes_ready():
            if not await self.subscribe(sub):
                return False
            try:
                self._runtime[sub] = await self._store(sub, "add", actor)
            except DatabaseUnavailable:
                await self.unsubscribe(sub)
                raise
            self.gaps.started(sub.exchange)  # a venue new at run time
            return True

    async def remove(self, sub: SubscriptionConfig, actor: str | None) -> bool:
        """Store the removal, then ``unsubscribe``; False when not subscribed (nothing stored).
        Raises ``DatabaseUnavailable`` when the change cannot be stored (nothing changed)."""
        async with self._changes_ready():
            if sub not in self._subscriptions:
                return False
            await self._store(sub, "remove", actor)
            self._runtime.pop(sub, None)
            return await self.unsubscribe(sub)

    def _changes_ready(self) -> AbstractAsyncContextManager[SubscriptionChanges]:
        return change_slot(
            self._changes, self.restored, self._change_lock, self.settings.connect_timeout_s
        )

    async def _store(
        self, sub: SubscriptionConfig, action: Literal["add", "remove"], actor: str | None
    ) -> SubscriptionChange:
        assert self._changes is not None
        return await self._changes.record(_key(sub), sub.model_dump(), action, actor)

    async def subscribe(self, sub: SubscriptionConfig) -> bool:
        """False when already subscribed. Raises ``ConfigError`` for an unsupported exchange
        and ``BadRequest``/``UnknownSymbol`` when the venue refuses the symbol.

        When the exchange cannot be reached now the subscription is kept as *pending* and
        retried in the background with backoff (an outage must not lose configuration).
        """
        if sub in self._subscriptions:
            return False
        adapter = self.adapters.get(sub.exchange) or self._start(sub.exchange)
        try:
            await adapter.subscribe(sub.channel, sub.symbol)
        except TransientExchangeError as exc:
            self._note(sub.exchange, "subscribe", _text(exc))
            self._subscriptions.add(sub)
            self._pending[sub] = asyncio.create_task(
                self._retry_subscribe(adapter, sub), name=f"md-subscribe-{sub.exchange}"
            )
            log.warning("subscription pending: exchange unreachable", extra=_fields(sub))
            return True
        self._subscriptions.add(sub)
        log.info("subscribed", extra=_fields(sub))
        return True

    def pending(self) -> list[SubscriptionConfig]:
        return sorted(self._pending, key=lambda s: (s.exchange, s.symbol, s.channel))

    async def _retry_subscribe(self, adapter: MarketDataAdapter, sub: SubscriptionConfig) -> None:
        delay = 1.0
        try:
            while True:
                await asyncio.sleep(delay)
                try:
                    await adapter.subscribe(sub.channel, sub.symbol)
                except TransientExchangeError as exc:
                    self._note(sub.exchange, "subscribe", _text(exc))
                    delay = min(delay * 2, RESTART.max_delay_s)
                    continue
                except Exception as exc:
                    message = self._note(sub.exchange, "subscribe", _text(exc))
                    log.error(
                        "pending subscription refused; dropped",
                        extra={**_fields(sub), "error": message},
                    )
                    self._subscriptions.discard(sub)
                    return
                log.info("pending subscription established", extra=_fields(sub))
                return
        finally:
            self._pending.pop(sub, None)

    async def unsubscribe(self, sub: SubscriptionConfig) -> bool:
        if sub not in self._subscriptions:
            return False
        self._subscriptions.discard(sub)
        retry = self._pending.pop(sub, None)
        if retry is not None:
            retry.cancel()
            return True
        await self.adapters[sub.exchange].unsubscribe(sub.channel, sub.symbol)
        key = (sub.exchange, sub.symbol)
        if sub.channel == "ticker":
            self.tickers.pop(key, None)
        if not any(
            s.exchange == sub.exchange and s.symbol == sub.symbol for s in self._subscriptions
        ):
            self.cross.forget(sub.exchange, sub.symbol)
            self.last_trades.pop(key, None)
        log.info("unsubscribed", extra=_fields(sub))
        return True

    async def adapter_for(self, exchange: str) -> MarketDataAdapter:
        """An adapter for REST calls (backfill): the streaming one when the exchange has one,
        else one made for REST only. Raises ``ConfigError`` for an unsupported exchange."""
        adapter = self.adapters.get(exchange) or self._rest_only.get(exchange)
        if adapter is None:
            adapter = self._rest_only[exchange] = self._factory(exchange, self.settings)
        return adapter

    def health(self) -> list[AdapterHealth]:
        out = []
        for exchange, adapter in sorted(self.adapters.items()):
            try:
                status = adapter.status()
            except Exception as exc:  # a broken status() must not break /v1/status
                status = StreamStatus(
                    exchange, False, None, 0.0, 0, True, False, None, f"status failed: {exc!r}"
                )
            task = self._tasks.get(exchange)
            if task is not None and task.done() and not task.cancelled():
                status = replace(status, connected=False, detail="adapter stopped")
            ours, theirs = self._last_error.get(exchange), status.last_error
            newest = ours if theirs is None or (ours and ours.time >= theirs.time) else theirs
            out.append(AdapterHealth(status, self._restarts.get(exchange, 0), newest))
        return out

    def _note(self, exchange: str, kind: str, message: str) -> str:
        """Record an error counted for ``exchange`` as its last one; returns the text."""
        self._last_error[exchange] = ErrorNote(kind, message, datetime.now(UTC))
        return message

    def _not_published(self, record: OutboundRecord, error: BaseException | None) -> None:
        """A record Kafka refused or the full outbox dropped: the service's last error; a
        trade's venue reads its cursors back and fetches what is missing."""
        kind, why = ("publish", _text(error)) if error is not None else ("outbox", "outbox full")
        self.last_error = ErrorNote(kind, f"{record.spec.name}: {why}", datetime.now(UTC))
        if record.spec.name == self._trades_topic.name:
            exchange = record.key.split(b":", 1)[0].decode(errors="replace")
            self.gaps.lost(exchange)

    def _trade_markets(self, exchange: str) -> list[str]:
        return sorted(
            s.symbol
            for s in self._subscriptions
            if s.exchange == exchange and s.channel == "trades"
        )

    async def _watch(self) -> None:
        """Twice a second: each venue's clock offset exported and alarmed; a fill of missed
        trades after a reconnect, when a stalled stream delivers again, and every
        ``stale_after_s`` while it stays stale (REST still answers during a stall)."""
        seen: dict[str, tuple[bool, bool]] = {}
        stale_fill: dict[str, float] = {}
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            try:
                self.clocks.check()
                for exchange, adapter in list(self.adapters.items()):
                    status = adapter.status()
                    was_connected, was_stale = seen.get(exchange, (status.connected, False))
                    seen[exchange] = (status.connected, status.stale)
                    if status.connected and not was_connected:
                        self.gaps.fill(exchange, "reconnected")
                    elif was_stale and not status.stale:
                        self.gaps.fill(exchange, "the stream delivers again")
                    elif status.stale:
                        last = stale_fill.get(exchange, 0.0)
                        if loop.time() - last >= self.settings.stale_after_s:
                            stale_fill[exchange] = loop.time()
                            self.gaps.fill(exchange, "the stream is stale")
            except Exception as exc:  # a broken status() must not stop the watcher
                log.warning("watching the adapters failed", extra={"error": repr(exc)})

    async def emit(self, event: MarketEvent) -> None:
        """What adapters call for every trade and ticker; never waits for Kafka."""
        self._emitted += 1
        if self._emitted % YIELD_EVERY == 0:
            # A burst the socket had buffered (a stalled stream delivering 40 s at once) is
            # read without suspending: give the loop a turn, so /readyz and the API answer.
            await asyncio.sleep(0)
        if event.exchange_time is not None:
            self.clocks.observe(event.exchange, event.exchange_time, event.received_time)
        key = (event.exchange, event.symbol)
        if isinstance(event, Trade):
            if not self.gaps.admit(event):
                return  # published already, or waiting while its venue's gap is fetched
            self.last_trades[key] = event
            self.cross.on_trade(event)
            self._publish_trade(event)
        else:
            record = self._record_key(key)
            self._counter(event.exchange, "ticker").inc()
            self.tickers[key] = event
            self.cross.on_ticker(event)
            self.outbox.offer(OutboundRecord(self._tickers_topic, record, ticker_message(event)))

    def _publish_trade(self, trade: Trade) -> None:
        """Into the outbox: a live trade ``admit`` let through, or one fetched after a gap."""
        self._counter(trade.exchange, "trade").inc()
        record = self._record_key((trade.exchange, trade.symbol))
        self.outbox.offer(OutboundRecord(self._trades_topic, record, trade_message(trade)))

    def _record_key(self, market: tuple[str, str]) -> bytes:
        record = self._keys.get(market)
        if record is None:  # record_key validates and joins: once per market, not per event
            record = self._keys[market] = record_key(*market)
        return record

    def _counter(self, exchange: str, kind: str) -> Counter:
        # labels() per event was a visible share of the publishing path; children are cached
        child = self._counters.get((exchange, kind))
        if child is None:
            child = self._counters[(exchange, kind)] = EVENTS.labels(exchange, kind)
        return child

    def _start(self, exchange: str) -> MarketDataAdapter:
        adapter = self._factory(exchange, self.settings)
        self.adapters[exchange] = adapter
        self.gaps.hold(exchange)  # its trades wait until its cursors are known
        self._tasks[exchange] = asyncio.create_task(
            self._run(adapter), name=f"md-adapter-{exchange}"
        )
        return adapter

    async def _run(self, adapter: MarketDataAdapter) -> None:
        delays = RESTART.delays()
        while True:
            try:
                await adapter.run(self.emit)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = next(delays, RESTART.max_delay_s)
                self._restarts[adapter.exchange] = self._restarts.get(adapter.exchange, 0) + 1
                message = self._note(adapter.exchange, "adapter", _text(exc))
                ADAPTER_RESTARTS.labels(adapter.exchange).inc()
                log.error(
                    "adapter failed; restarting",
                    extra={
                        "exchange": adapter.exchange,
                        "error": message,
                        "retry_in_s": round(delay, 2),
                    },
                )
                await asyncio.sleep(delay)


def _text(exc: BaseException | None) -> str:
    return "" if exc is None else f"{type(exc).__name__}: {exc}"


def _key(sub: SubscriptionConfig) -> str:
    return f"{sub.exchange}|{sub.symbol}|{sub.channel}"


def _fields(sub: SubscriptionConfig) -> dict[str, str]:
    return {"exchange": sub.exchange, "symbol": sub.symbol, "channel": sub.channel}
