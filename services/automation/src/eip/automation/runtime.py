"""The service at run time: which accounts this instance evaluates, the market streams into the
rule engine, the engine's transitions into PostgreSQL, the outboxes to Kafka, and the
arbitrage tracker on the books.

Ownership, as the market-data candle stage does it. The instances share the consumer group
``AUTOMATION_GROUP_ID`` on ``automation.rules.v1`` (key = account): an instance evaluates the
rules of the accounts whose key falls in the partitions it holds. When partitions arrive it
loads those accounts' active rules with their state from PostgreSQL (the level last seen, the
trigger sequence, the last cron instant) before any of their records is handled; when they
leave it drops them. Records on that topic are rule changes: the holder reads the rule again.

The same partitions split the arbitrage work: the instance holding a symbol's key (the symbol,
e.g. ``BTC/USDT``, placed as an account would be) walks its books and keeps its opportunities'
lifetimes; on assignment it reads the symbol's open lifetimes back from PostgreSQL, so a
hand-over continues a lifetime instead of opening a second one.

Market data is read by every instance whole (``md.tickers.v1``, ``md.trades.v1``,
``md.candles.v1``, in a group of its own per instance, from the end: a rule is about the market
from now on), as are the books (``books.py``). Nothing here depends on which records an
instance saw: a firing's id is made of the rule, its version and the trigger's sequence or
instant, and every state change is a compare-and-set (``storage/rules.py``). So a hand-over,
a restart or two instances that briefly both hold an account (one stalled past the session
timeout) still fire each trigger once.

What is subtle: transitions are applied one at a time under one lock, in order, and a firing's
transaction starts by locking its rule's row. A firing that waits on that row (another
instance's firing, an operator's transaction) holds the evaluation of every rule of this
instance meanwhile. So that wait is bounded (``AUTOMATION_FIRING_LOCK_TIMEOUT_S``): a rule
whose row stays locked is turned away with nothing written, dropped from the engine and taken
back from PostgreSQL after a backoff (``_retry_locked``), when its transition is proposed
again from the stored state — the same firing id, so still once. The stall watch
(``_stall_watch``) makes any longer wait visible: a warning repeated while it lasts,
``eip_automation_oldest_firing_age_seconds``, and ``evaluation_stalled`` on /readyz.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from aiokafka import TopicPartition
from prometheus_client import Counter, Gauge

from eip.automation.arbitrage import ArbitrageTracker, Opportunity
from eip.automation.arbitrage_execution import PREFIX as EXECUTION_PREFIX
from eip.automation.books import BookFollower
from eip.automation.executions import execution_of, is_arbitrage
from eip.automation.paper import PaperFill, PaperRefused, simulate
from eip.automation.rules.engine import RuleEngine, Transition
from eip.automation.rules.model import PlaceOrderAction, VwapAction
from eip.automation.settings import AutomationSettings
from eip.automation.storage.arbitrage import ArbitrageStore
from eip.automation.storage.rules import RuleStore, Schedule
from eip.automation.topics import Topics
from eip.automation.vwap import PROFILE_TIMEFRAME, VolumeCandles, slice_quantity, volume_profile
from eip.automation.webhooks import WebhookSender
from eip.bus import Consumer, ConsumerConfig, PoisonMessage, Producer, Record, partition_for_key
from eip.events.topics import TopicSpec, record_key
from eip.events.v1 import automation_pb2, market_data_pb2, orders_pb2
from eip.exchanges.contract.market_data import TIMEFRAME_SECONDS
from eip.market_data.candles.builder import Candle
from eip.market_data.candles.restore import candle_from_message, read_recent_candles
from eip.market_data.wire import trade_from_message
from eip.observability.http import NotReady
from eip.observability.redaction import register_secret
from eip.resilience import RetryPolicy

log = logging.getLogger(__name__)

OLDEST_FIRING = Gauge(
    "eip_automation_oldest_firing_age_seconds",
    "How long the firing transaction in progress on this instance has run (0: none); every"
    " rule's evaluation here waits for it",
)
STALLS = Counter(
    "eip_automation_firing_stalls_total",
    "Firing transactions that ran longer than AUTOMATION_FIRING_STALL_AFTER_S",
)


class _Running:
    """The transition being stored now: which rule, since when (monotonic)."""

    __slots__ = ("account_id", "logged_at", "rule_id", "started")

    def __init__(self, rule_id: str, account_id: str) -> None:
        self.rule_id, self.account_id = rule_id, account_id
        self.started = time.monotonic()
        self.logged_at: float | None = None  # when its stall was last logged

    def age(self) -> float:
        return time.monotonic() - self.started


class Automation:
    def __init__(
        self,
        settings: AutomationSettings,
        store: RuleStore,
        producer: Callable[[], Producer | None],
        pool: Callable[[], object],
        topics: Topics,
    ) -> None:
        self.settings = settings
        self.store = store
        self.topics = topics
        self._producer = producer
        self.instance = settings.instance_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.books = BookFollower(settings.book_stale_after_s)
        self.engine = RuleEngine(self.books)
        self.arbitrage = ArbitrageTracker(
            self.books,
            lambda venue: settings.taker_fees.get(venue, settings.arbitrage_default_taker_fee),
            pool,
            settings.db_schema,
            producer,
            topics.arbitrage,
            settings.arbitrage_min_profit,
            settings.arbitrage_close_after_s,
        )
        self.executions = ArbitrageStore(store, topics.arbitrage_executions)
        register_secret(settings.webhook_signing_key.get_secret_value())  # never in a log line
        self.webhooks = WebhookSender(
            pool,
            settings.db_schema,
            settings.webhook_signing_key.get_secret_value(),
            settings.webhook_max_attempts,
            retry=RetryPolicy(
                attempts=settings.webhook_max_attempts,
                base_delay_s=settings.webhook_retry_base_s,
                max_delay_s=max(600.0, settings.webhook_retry_base_s),
            ),
        )
        self.owned: frozenset[int] = frozenset()
        self._rule_partitions: list[int] = []
        self._lock = asyncio.Lock()  # one transition applied at a time, in order
        self._dirty: set[str] = set()  # symbols whose books changed since the last walk
        # Set once the ownership consumer's first assignment is loaded (zero partitions count:
        # more instances than partitions), cleared while that consumer is down: /readyz.
        self.ready = asyncio.Event()
        self.fired = 0
        self._consumers: list[Consumer] = []
        self._stopped = False
        self._ownership_consumer: Consumer | None = None
        self._wake = asyncio.Event()  # set by stop(): sleeping loops end at once
        self._volume_marks: dict[str, Decimal] = {}  # schedule -> market volume at its last slice
        self._running: _Running | None = None  # the transition in RuleStore.apply now
        # rules turned away by their row's lock: rule id -> (when to take it back, the delays)
        self._locked: dict[str, tuple[float, Iterator[float]]] = {}

    # -- life -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Migrate, then run every loop until cancelled; a loop that fails restarts alone."""
        await self._retry("migrations", self.store.migrate)
        producer = await _wait_for(self._producer)
        loops: list[Callable[[], Awaitable[None]]] = [self._clock_loop, self._stall_watch]
        if self.settings.evaluation_enabled or self.settings.arbitrage_enabled:
            loops.append(lambda: self._consume(self._ownership(producer)))
        if self.settings.evaluation_enabled:
            loops.append(lambda: self._consume(self._markets(producer)))
        if self.settings.evaluation_enabled or self.settings.arbitrage_enabled:
            # firings' orders, and arbitrage executions' legs
            loops.append(lambda: self._consume(self._order_events(producer)))
        if self.settings.evaluation_enabled or self.settings.arbitrage_enabled:
            loops += [
                lambda: self._consume(
                    self._book_consumer(self.topics.book_snapshots, "earliest", producer)
                ),
                lambda: self._consume(
                    self._book_consumer(self.topics.book_deltas, "latest", producer)
                ),
            ]
        if self.settings.arbitrage_enabled:
            loops.append(self._arbitrage_loop)
        tasks = [asyncio.create_task(self._supervise(loop)) for loop in loops]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            # gather cancelled them: let each finish its cleanup (a consumer's commit and
            # close) before this task ends
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def stop(self) -> None:
        """Every loop ends after what it has in hand (consumers commit and close)."""
        self._stopped = True
        self._wake.set()
        for consumer in self._consumers:
            consumer.stop()

    async def _supervise(self, loop: Callable[[], Awaitable[None]]) -> None:
        delay = 1.0
        while not self._stopped:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error(
                    "automation loop failed; restarting",
                    extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _retry(self, what: str, call: Callable[[], Awaitable[object]]) -> None:
        delay = 0.5
        while True:
            try:
                await call()
                return
            except Exception as exc:
                log.warning(f"{what} not done yet", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _consume(self, consumer: Consumer) -> None:
        if self._stopped:
            return
        await consumer.start()
        self._consumers.append(consumer)
        try:
            if not self._stopped:
                await consumer.run()
            else:
                consumer.stop()
                await consumer.run()  # returns at once, closing the consumer
        finally:
            self._consumers.remove(consumer)
            if consumer is self._ownership_consumer:
                self.ready.clear()  # out of the group: it holds nothing until it joins again

    def check_ready(self) -> None:
        """/readyz's ``evaluation`` check: raises ``NotReady`` until this instance has joined
        the ownership group and loaded what it was assigned. Before that it evaluates nothing,
        so a rolling deploy must not count it as up (the first assignment comes about a second
        after the start, longer when the group rebalances)."""
        if not (self.settings.evaluation_enabled or self.settings.arbitrage_enabled):
            return
        if not self.ready.is_set():
            raise NotReady(
                "awaiting_assignment",
                "not yet assigned its partitions of the rules topic: evaluates nothing",
                {"group": self.settings.group_id, "topic": self.topics.rules.name},
            )
        running = self._running
        if running is not None and running.age() > self.settings.firing_stall_after_s:
            raise NotReady(
                "evaluation_stalled",
                f"a firing of rule {running.rule_id} has run {running.age():.0f}s (waiting on"
                " its rule's row lock?): every rule of this instance waits for it",
                _stall_details(running),
            )

    async def aclose(self) -> None:
        await self.webhooks.aclose()

    def _config(self, group: str, reset: str = "earliest") -> ConsumerConfig:
        return ConsumerConfig(
            self.settings.kafka_bootstrap_servers,
            group_id=group,
            client_id=f"automation-{self.instance}",
            auto_offset_reset=reset,
            connect_timeout_s=self.settings.connect_timeout_s,
        )

    # -- ownership ------------------------------------------------------------------------------

    def _ownership(self, producer: Producer) -> Consumer:
        consumer = Consumer(
            self._config(self.settings.group_id),
            [self.topics.rules],
            self._rule_changed,
            producer,
            rebalance_listener=self,
        )
        self._ownership_consumer = consumer
        return consumer

    def owns(self, key: str) -> bool:
        """Whether this instance holds the partition of ``key`` on the rules topic: an
        account's rules, or a symbol's arbitrage opportunities."""
        if not self._rule_partitions:
            return False
        return partition_for_key(record_key(key), self._rule_partitions) in self.owned

    async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        assert self._ownership_consumer is not None
        ids = self._ownership_consumer.partitions_for(self.topics.rules.name)
        if not ids:
            raise RuntimeError(f"no metadata for {self.topics.rules.name} at assignment")
        mine = frozenset(tp.partition for tp in partitions if tp.topic == self.topics.rules.name)
        self._rule_partitions = ids
        previous, self.owned = self.owned, mine
        if self.settings.arbitrage_enabled:
            # the symbols of the new partitions: their open lifetimes, as the last owner left them
            await self.arbitrage.restore(self.owns)
        if not self.settings.evaluation_enabled:
            self.ready.set()
            return
        rules = await self.store.active_rules(self.owns)
        async with self._lock:
            self.engine.remove_where(lambda r: not self.owns(r.account_id))
            for rule in rules:
                if (
                    rule.rule_id not in self.engine.rules
                    or partition_for_key(record_key(rule.account_id), ids) not in previous
                ):
                    self.engine.add(rule)
        await self._warm_indicators()
        log.info(
            "automation accounts assigned",
            extra={"partitions": sorted(mine), "rules": len(self.engine.rules)},
        )
        self.ready.set()

    async def on_partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        gone = {tp.partition for tp in partitions if tp.topic == self.topics.rules.name}
        self.owned = self.owned - gone
        self.arbitrage.forget(lambda symbol: not self.owns(symbol))
        async with self._lock:
            self.engine.remove_where(lambda r: not self.owns(r.account_id))

    async def _rule_changed(self, record: Record) -> None:
        message = record.message
        assert isinstance(message, automation_pb2.RuleChange)
        if not self.owns(message.account_id):
            return
        await self.reload(message.rule_id)

    async def reload(self, rule_id: str) -> None:
        rule = await self.store.rule_for_evaluation(rule_id)
        async with self._lock:
            if rule is None or not self.owns(rule.account_id):
                self.engine.remove(rule_id)
            else:
                self.engine.add(rule)
        await self._warm_indicators()

    async def _warm_indicators(self) -> None:
        """Give new indicators the closed candles of md.candles.v1 they need (as far back as
        the topic keeps them, 30 days), so an indicator rule is live at once instead of after
        ``period`` candles. A read that fails leaves them to start from the live candles."""
        needs = self.engine.cold_indicators()
        if not needs:
            return
        span = max(n * TIMEFRAME_SECONDS[tf] for (_, _, tf), n in needs.items())  # type: ignore[index]
        since = datetime.now(UTC) - timedelta(
            seconds=min(
                span + max(TIMEFRAME_SECONDS.values()), self.topics.candles.retention_ms / 1000
            )
        )
        collector = ClosedCandles()
        try:
            await read_recent_candles(
                self.settings.kafka_bootstrap_servers,
                self.topics.candles,
                since,
                timeout_s=self.settings.indicator_warmup_timeout_s,
                keep=lambda k: (k.exchange, k.symbol, k.timeframe) in needs,
                collect=collector,
            )
        except Exception as exc:
            log.warning("indicator history not read", extra={"error": repr(exc)})
        async with self._lock:
            fed = self.engine.warm(collector.history())
        log.info("indicators warmed up", extra={"indicators": len(needs), "candles": fed})

    # -- market data ----------------------------------------------------------------------------

    def _markets(self, producer: Producer) -> Consumer:
        return Consumer(
            self._config(f"{self.settings.group_id}-md-{self.instance}", "latest"),
            [self.topics.tickers, self.topics.trades, self.topics.candles],
            self._market_record,
            producer,
        )

    async def _market_record(self, record: Record) -> None:
        message = record.message
        try:
            async with self._lock:
                transitions = self._to_engine(message)
                await self._apply(transitions)
        except ValueError as exc:
            raise PoisonMessage(str(exc)) from None

    def _to_engine(self, message: object) -> list[Transition]:
        if isinstance(message, market_data_pb2.Trade):
            trade = trade_from_message(message)
            return self.engine.on_trade(
                trade.exchange,
                trade.symbol,
                trade.exchange_time or trade.received_time,
                trade.price,
                trade.amount,
            )
        if isinstance(message, market_data_pb2.Ticker):
            times = message.times
            at = times.exchange_time if times.HasField("exchange_time") else times.received_time
            return self.engine.on_ticker(
                message.instrument.exchange,
                message.instrument.symbol,
                at.ToDatetime(tzinfo=UTC),
                _dec(message.bid),
                _dec(message.ask),
                _dec(message.last),
            )
        if isinstance(message, market_data_pb2.Candle) and message.closed:
            candle = candle_from_message(message)
            return self.engine.on_candle(
                candle.key.exchange,
                candle.key.symbol,
                candle.key.timeframe,
                candle.open_time,
                candle.close,
                candle.close_time,
            )
        return []

    async def _apply(self, transitions: list[Transition]) -> None:
        """Store each transition (the lock is held); a refused one reloads its rule."""
        for i, t in enumerate(transitions):
            rule = t.rule
            reference = self._reference_price(t)
            paper = self._paper(t) if t.fires and rule.definition.paper else None
            self._running = running = _Running(rule.rule_id, rule.account_id)
            try:
                applied = await self.store.apply(t, reference, paper)
            except BaseException:
                # not stored: the engine forgets it saw this, so the next evaluation proposes it
                # again (the market state already holds the tick, so a plain cross is looked at
                # on the next price whatever it is)
                for later in transitions[i:]:
                    if later.rule.schedule is None:
                        later.rule.level = later.previous
                        self.engine.unsettle(later.rule)
                    else:
                        later.rule.last_instant = None
                raise
            finally:
                self._running = None
                if running.logged_at is not None:
                    log.warning("stalled firing done", extra=_stall_details(running))
            if applied.outcome == "fired":
                self.fired += 1
                if applied.status is not None:
                    self.engine.remove(rule.rule_id)
            if applied.outcome == "locked":
                self._turned_away(rule.rule_id, rule.account_id)
                continue
            self._locked.pop(rule.rule_id, None)
            if applied.outcome in ("conflict", "stale"):
                fresh = await self.store.rule_for_evaluation(rule.rule_id)
                if fresh is None or not self.owns(fresh.account_id):
                    self.engine.remove(rule.rule_id)
                else:
                    self.engine.add(fresh)
        if any(t.fires for t in transitions):
            await self._relay()

    def _turned_away(self, rule_id: str, account_id: str) -> None:
        """Its row stayed locked: nothing was written. The rule leaves the engine (its state
        there assumed a change that did not happen) until ``_retry_locked`` reads it back."""
        self.engine.remove(rule_id)
        _, delays = self._locked.get(rule_id, (0.0, None))
        if delays is None:
            base = self.settings.firing_lock_retry_s
            delays = RetryPolicy(1_000_000, base, max(300.0, base)).delays()
        retry_in = self.settings.firing_lock_retry_s + next(delays)
        self._locked[rule_id] = (time.monotonic() + retry_in, delays)
        log.warning(
            "firing turned away: its rule's row is locked; tried again later",
            extra={
                "rule_id": rule_id,
                "account_id": account_id,
                "lock_timeout_s": self.settings.firing_lock_timeout_s,
                "retry_in_s": round(retry_in, 1),
            },
        )

    async def _retry_locked(self) -> None:
        """Take back the rules whose retry is due, from PostgreSQL, and look at them now (a
        quiet market would otherwise hold a crossing back until its next price)."""
        now = time.monotonic()
        for rule_id in [r for r, (due, _) in self._locked.items() if due <= now]:
            # tried once: turned away again, the backoff goes on; applied, the entry goes
            self._locked[rule_id] = (float("inf"), self._locked[rule_id][1])
            await self.reload(rule_id)
            async with self._lock:
                await self._apply(self.engine.recheck([rule_id], datetime.now(UTC)))

    def _paper(self, t: Transition) -> PaperFill | str:
        """The paper fill of this firing's order against the book now, or why there is none."""
        action = t.rule.definition.action
        assert isinstance(action, PlaceOrderAction)
        fee = self.settings.taker_fees.get(
            action.exchange, self.settings.arbitrage_default_taker_fee
        )
        try:
            return simulate(action, self.books, fee)
        except PaperRefused as exc:
            return str(exc)

    def _reference_price(self, t: Transition) -> Decimal | None:
        action = t.rule.definition.action
        market = getattr(action, "exchange", None), getattr(action, "symbol", None)
        if market[0] is None or market[1] is None:
            return None
        state = self.engine.markets.get((market[0], market[1]))
        if state is None:
            return None
        return state.last or state.price("mid")

    async def _relay(self) -> None:
        try:
            while await self.store.relay_commands() > 0:
                pass
            while await self.store.relay_changes() > 0:
                pass
            while await self.executions.relay() > 0:
                pass
            await self.store.audit().relay()
        except Exception as exc:  # pending rows stay; the clock loop retries
            log.warning("outbox not relayed yet", extra={"error": repr(exc)})

    async def _stall_watch(self) -> None:
        """The age of the transition being stored, as a gauge; past the stall threshold a
        warning, repeated every ``firing_stall_log_interval_s`` while it lasts."""
        every = min(1.0, self.settings.firing_stall_after_s / 2)
        try:
            while not self._stopped:
                running = self._running
                age = 0.0 if running is None else running.age()
                OLDEST_FIRING.set(age)
                if running is not None and age > self.settings.firing_stall_after_s:
                    now = time.monotonic()
                    if running.logged_at is None:
                        STALLS.inc()
                    if (
                        running.logged_at is None
                        or now - running.logged_at >= self.settings.firing_stall_log_interval_s
                    ):
                        running.logged_at = now
                        log.warning(
                            "firing stalled: every rule of this instance waits for it",
                            extra=_stall_details(running),
                        )
                await self._pause(every)
        finally:
            OLDEST_FIRING.set(0)

    # -- executions: what order management made of the commands -------------------------------

    def _order_events(self, producer: Producer) -> Consumer:
        # One group shared by the instances: each event is kept once by whichever instance holds
        # its partition (a row changes only for a newer order version), and the group's offsets
        # carry over restarts, so nothing published while no instance ran is missed.
        return Consumer(
            self._config(f"{self.settings.group_id}-orders"),
            [self.topics.order_events],
            self._order_event,
            producer,
        )

    async def _order_event(self, record: Record) -> None:
        message = record.message
        if not isinstance(message, orders_pb2.OrderEvent):
            return
        execution = execution_of(message)
        if execution is None:
            return
        if is_arbitrage(execution):
            await self.executions.record_leg(execution)
        else:
            await self.store.record_execution(execution)

    # -- the clock: cron rules, outbox catch-up -------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        """Sleep, or less when the service stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _clock_loop(self) -> None:
        while not self._stopped:
            await self._pause(self.settings.tick_interval_s)
            try:
                async with self._lock:
                    await self._apply(self.engine.on_clock(datetime.now(UTC)))
                if self.settings.evaluation_enabled:
                    await self.send_slices(datetime.now(UTC))
                    await self._retry_locked()
            except Exception as exc:
                log.warning("scheduled rules not evaluated", extra={"error": repr(exc)})
            await self._relay()
            try:
                while await self.webhooks.send_due() > 0:
                    pass
            except Exception as exc:
                log.warning("webhooks not delivered yet", extra={"error": repr(exc)})

    async def send_slices(self, now: datetime, owned: Callable[[str], bool] | None = None) -> int:
        """Send the due slice of each running schedule of the accounts held here (one slice per
        schedule and call: missed ones catch up a tick at a time). Returns the slices sent."""
        sent = 0
        for schedule in await self.store.running_schedules(owned or self.owns):
            action = schedule.action
            state = self.engine.market((action.exchange, action.symbol))
            # the market's volume since the previous slice, as far as this instance saw it (a
            # schedule first seen here counts from its first sight)
            mark = self._volume_marks.setdefault(schedule.firing_id, state.volume)
            if schedule.due_at(schedule.next_slice) > now:
                continue
            remaining = action.quantity - schedule.done_quantity
            last = action.slices - schedule.next_slice == 1
            weights = schedule.weights
            if weights is None and isinstance(action, VwapAction):
                weights = await self._vwap_weights(schedule, action)
            quantity = slice_quantity(
                remaining, weights or [Decimal(1)] * action.slices, schedule.next_slice, action.lot
            )
            if action.max_participation is not None:
                allowed = (state.volume - mark) * action.max_participation
                allowed = (allowed / action.lot).to_integral_value(ROUND_DOWN) * action.lot
                quantity = min(quantity, max(allowed, Decimal(0)))
            shortfall = remaining - quantity if last else None
            if await self.store.send_slice(schedule, quantity, shortfall):
                sent += 1
                self._volume_marks[schedule.firing_id] = state.volume
                if last:
                    self._volume_marks.pop(schedule.firing_id, None)
        if sent:
            await self._relay()
        return sent

    async def _vwap_weights(self, schedule: Schedule, action: VwapAction) -> list[Decimal]:
        """The schedule's volume profile from the closed 1-minute candles of md.candles.v1
        (equal weights when there are none, or they cannot be read), fixed in PostgreSQL."""
        collector = VolumeCandles(action.exchange, action.symbol)
        since = schedule.started_at - timedelta(days=action.profile_days, minutes=1)
        try:
            await read_recent_candles(
                self.settings.kafka_bootstrap_servers,
                self.topics.candles,
                since,
                timeout_s=self.settings.indicator_warmup_timeout_s,
                keep=lambda k: (
                    (k.exchange, k.symbol, k.timeframe)
                    == (action.exchange, action.symbol, PROFILE_TIMEFRAME)
                ),
                collect=collector,
            )
        except Exception as exc:
            log.warning("volume profile not read", extra={"error": repr(exc)})
        volumes = collector.volumes()
        weights = volume_profile(
            volumes, schedule.started_at, action.interval_s, action.slices, action.profile_days
        )
        if sum(weights) > 0:
            profile = (
                f"{len(volumes)} closed {PROFILE_TIMEFRAME} candles of the last "
                f"{action.profile_days} days"
            )
        else:
            weights = [Decimal(1)] * action.slices
            profile = (
                f"uniform: no {PROFILE_TIMEFRAME} volume in the last {action.profile_days} days"
            )
        return await self.store.set_weights(schedule, weights, profile)

    # -- books and arbitrage --------------------------------------------------------------------

    def _book_consumer(self, topic: TopicSpec, reset: str, producer: Producer) -> Consumer:
        # a group of this process's own: nothing to resume from a previous run
        group = f"{self.settings.group_id}-books-{self.instance}-{uuid.uuid4().hex[:8]}"
        return Consumer(self._config(group, reset), [topic], self._book_record, producer)

    async def _book_record(self, record: Record) -> None:
        market = self.books.handle(record)
        if market is None:
            return
        self._dirty.add(market[1])
        if self.settings.evaluation_enabled and market in self.engine.markets:
            async with self._lock:
                await self._apply(self.engine.on_book(*market, datetime.now(UTC)))

    async def _arbitrage_loop(self) -> None:
        while not self._stopped:
            await self._pause(0.2)
            # a symbol's opportunities are the business of the instance holding its key
            dirty = {s for s in self._dirty if self.owns(s)}
            self._dirty = set()
            try:
                for symbol in sorted(dirty):
                    await self.execute(await self.arbitrage.evaluate(symbol))
                await self.arbitrage.sweep()
            except Exception as exc:
                self._dirty |= dirty
                log.warning("arbitrage not evaluated", extra={"error": repr(exc)})

    async def execute(self, opportunities: list[Opportunity]) -> list[str]:
        """Each opened or changed opportunity executed for every account that opted in to its
        symbol and venues (``storage/arbitrage.py``: once per opportunity and account, within
        the account's limits). Returns the execution ids sent."""
        sent = []
        for o in opportunities:
            if o.closed:
                continue
            w = o.walk
            for account in await self.executions.candidates(
                w.symbol, w.buy.exchange, w.sell.exchange
            ):
                outcome = await self.executions.execute(o, account)
                log.info(
                    "arbitrage execution",
                    extra={"opportunity": o.opportunity_id, "account": account, "outcome": outcome},
                )
                if outcome.startswith(EXECUTION_PREFIX):
                    sent.append(outcome)
        return sent


class ClosedCandles:
    """The closed candles of a read-back, one per key and interval (the last record wins)."""

    def __init__(self) -> None:
        self._closes: dict[tuple[str, str, str], dict[datetime, Decimal]] = {}

    def add(self, candle: Candle) -> None:
        if candle.closed:
            key = (candle.key.exchange, candle.key.symbol, candle.key.timeframe)
            self._closes.setdefault(key, {})[candle.open_time] = candle.close

    def candles(self) -> list[Candle]:
        return []  # only history() is read

    def history(self) -> dict[tuple[str, str, str], list[tuple[datetime, Decimal]]]:
        return {key: sorted(closes.items()) for key, closes in self._closes.items()}


def _stall_details(running: _Running) -> dict[str, object]:
    return {
        "rule_id": running.rule_id,
        "account_id": running.account_id,
        "elapsed_s": round(running.age(), 1),
    }


def _dec(text: str) -> Decimal | None:
    return Decimal(text) if text else None


async def _wait_for(getter: Callable[[], Producer | None], wait_s: float = 0.2) -> Producer:
    # The runtime opens Kafka in the background and offers no event for it; poll.
    while True:
        value = getter()
        if value is not None:
            return value
        await asyncio.sleep(wait_s)
