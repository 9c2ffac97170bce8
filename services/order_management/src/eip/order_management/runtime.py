"""The order-management service's moving parts, wired once and started after the runtime's
dependencies (Kafka and PostgreSQL open in the background), stopped before them.

Consumers and their groups:

- ``orders.commands.v1`` in the shared group ``ORDER_MANAGEMENT_GROUP_ID``, with ``Partitions``
  as its rebalance listener: the partitions it is given are the accounts this instance owns.
  For each one taken over, before any of its commands is handled: the lease is taken (its
  epoch is the fencing token), the open orders are loaded for the limits, calls left in flight
  by the previous owner are marked in doubt for the resolver, the armed triggers are loaded,
  the private streams of its venue accounts started and a reconcile pass run. For each one given
  up: nothing more is claimed, calls in flight are awaited, streams stopped, state dropped.
- ``md.tickers.v1`` and ``md.trades.v1`` in a group per instance from the latest offset: every
  instance needs every live price (reference prices, emulated triggers).

Background loops: the sender and the resolver (``sender.py``), the event relay, the audit
chainer and relay (staged audit events into the chain in batches, then to Kafka), REST
polling and reconcile passes (``tracking.py``), trigger reloads and watermark saves
(``emulation.py``), confirmation and GTD expiry, the risk refresh, and the notification listener
(``routing.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from decimal import Decimal

from aiokafka import TopicPartition

from eip.audit import AuditTrail
from eip.bus import Consumer, ConsumerConfig, PoisonMessage, Producer, Record
from eip.bus.codec import headers_for
from eip.bus.consumer import Handler
from eip.events.topics import (
    ACCOUNT_BALANCES,
    AUDIT_EVENTS,
    MD_TICKERS,
    MD_TRADES,
    ORDERS_COMMANDS,
    ORDERS_EVENTS,
    TopicSpec,
)
from eip.events.v1 import orders_pb2
from eip.exchanges.contract.errors import TransientExchangeError
from eip.order_management.balances import TopicBalances
from eip.order_management.commands import InvalidCommand, from_proto
from eip.order_management.emulation import Emulator
from eip.order_management.exposure import Exposure
from eip.order_management.intake import AmendDenied, Intake, KeyReused, NotChangeable, OrderNotFound
from eip.order_management.ledger import Ledger
from eip.order_management.lists import ListRules
from eip.order_management.market import MarketPrices, SlippageClient, TokenSource
from eip.order_management.ownership import NotOwner, Ownership
from eip.order_management.risk.engine import Profiles, RiskEngine
from eip.order_management.risk.limits import EffectiveLimits
from eip.order_management.risk.state import RiskState
from eip.order_management.routing import Listener, Router
from eip.order_management.sender import Sender, SenderSettings
from eip.order_management.settings import OrderManagementSettings
from eip.order_management.storage import Database, Fenced, Leases, OrderRepository, Outbox
from eip.order_management.storage.risk import RiskStore
from eip.order_management.storage.triggers import TriggerStore
from eip.order_management.tracking import Tracker, TrackingSettings, at_venue
from eip.order_management.venues import (
    AdapterBalances,
    AdapterFactory,
    BalanceSource,
    Venues,
    no_adapters,
)
from eip.resilience import DependencyUnavailable
from eip.runtime.dependencies import Dependencies
from eip.storage import DatabaseUnavailable

log = logging.getLogger(__name__)
STOP_S = 10.0
RELAY_BATCH = 500  # event records and staged audit events taken per pass


@dataclasses.dataclass(frozen=True)
class Topics:
    commands: TopicSpec
    events: TopicSpec
    trades: TopicSpec
    tickers: TopicSpec
    audit: TopicSpec

    @classmethod
    def from_settings(cls, s: OrderManagementSettings) -> Topics:
        return cls(
            dataclasses.replace(ORDERS_COMMANDS, name=s.commands_topic),
            dataclasses.replace(ORDERS_EVENTS, name=s.events_topic),
            dataclasses.replace(MD_TRADES, name=s.trades_topic),
            dataclasses.replace(MD_TICKERS, name=s.tickers_topic),
            dataclasses.replace(AUDIT_EVENTS, name=s.audit_topic),
        )


def _instance_id(configured: str) -> str:
    return configured or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


class Partitions:
    """The commands consumer's rebalance listener: takes partitions over and gives them up."""

    def __init__(self, runtime: OrderManagementRuntime) -> None:
        self.rt = runtime

    async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        wanted = {tp.partition for tp in partitions}
        for partition in sorted(wanted):
            if not await self.rt.holds_lease(partition):
                await self.rt.take_over(partition)

    async def on_partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        await self.rt.give_up({tp.partition for tp in partitions})


class OrderManagementRuntime:
    def __init__(
        self,
        settings: OrderManagementSettings,
        deps: Dependencies,
        *,
        adapters: AdapterFactory | None = None,
        topics: Topics | None = None,
        books_token: TokenSource | None = None,
        balances: BalanceSource | None = None,
    ) -> None:
        s = settings
        self.settings = s
        self.deps = deps
        self.topics = topics or Topics.from_settings(s)
        self.instance_id = _instance_id(s.instance_id)
        self.db = Database(lambda: deps.db, s.db_schema, s.audit_schema, s.connect_timeout_s)
        self.audit = AuditTrail(s.audit_schema, topic=self.topics.audit)
        self.repo = OrderRepository(self.db, self.audit)
        self.outbox = Outbox(self.db)
        self.leases = Leases(self.db)
        self.ownership = Ownership(self.instance_id, self.topics.commands.partitions)
        self.ledger = Ledger(self.db, self.repo, self.outbox, self.leases, self.ownership)
        self.triggers = TriggerStore(self.db)
        self.risk_store = RiskStore(self.db)
        self.venues = Venues(adapters or no_adapters, rules_ttl_s=s.rules_ttl_s)
        self.adapter_balances = AdapterBalances(self.venues, s.balance_max_age_s)
        # the account service's balances unless told otherwise (a test's own source, or
        # ORDER_MANAGEMENT_BALANCE_SOURCE=adapter where no account service runs)
        self.topic_balances: TopicBalances | None = None
        if balances is None and s.balance_source == "account":
            self.topic_balances = TopicBalances(s.balances_topic, max_age_s=s.balance_max_age_s)
        self.balances: BalanceSource = balances or self.topic_balances or self.adapter_balances
        self._balances_consumer: Consumer | None = None
        self.prices = MarketPrices()
        self.slippage = SlippageClient(s.order_book_url, books_token, timeout_s=2.0)
        self.exposure = Exposure()
        self.risk_state = RiskState(
            self.db,
            self.risk_store,
            EffectiveLimits(
                reference_max_age_s=s.default_reference_max_age_s,
                confirm_ttl_s=s.default_confirm_ttl_s,
                four_eyes=s.default_four_eyes,
            ),
        )
        self.profiles = Profiles(self.db, self.risk_store)
        self.risk = RiskEngine(
            self.risk_state,
            self.venues,
            self.balances,
            self.prices,
            self.slippage,
            self.exposure,
            self.profiles,
            self._usage,
        )
        self.intake = Intake(
            self.ledger, self.risk, self.venues, self.ownership, self.triggers, self.risk_store
        )
        self.ledger.before_write.append(ListRules(self.triggers))
        self.sender = Sender(
            self.ledger,
            self.venues,
            self.risk_state,
            SenderSettings(
                batch=s.sender_batch,
                max_in_flight=s.max_in_flight,
                send_deadline_s=s.send_deadline_s,
                call_timeout_s=s.call_timeout_s,
                in_doubt_horizon_s=s.in_doubt_horizon_s,
                retry_base_s=s.retry_base_s,
                retry_max_s=s.retry_max_s,
            ),
            self.triggers,
        )
        self.tracker = Tracker(
            self.ledger,
            self.venues,
            self.adapter_balances,
            self.risk_store,
            TrackingSettings(
                poll_interval_s=s.poll_interval_s,
                reconcile_interval_s=s.reconcile_interval_s,
                lost_after=s.lost_after,
                stream_idle_s=s.stream_idle_s,
            ),
        )
        self.sender.on_sent = self.tracker.ensure
        self.emulator = Emulator(self.ledger, self.triggers)
        self.ledger.on_commit.append(self._committed)
        self.router = Router(
            self.intake,
            self.ownership,
            lambda: deps.producer,
            self.topics.commands,
            s.forward_wait_s,
        )
        self.listener = Listener(
            lambda: s.database_url.get_secret_value(), s.db_schema, self.router, self.refresh_risk
        )
        self.ready = asyncio.Event()  # migrated, risk state read
        self._consumers: list[Consumer] = []
        self._consuming: list[asyncio.Task[None]] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def _usage(self, account_id: str, day: date) -> tuple[Decimal, Decimal]:
        async with self.db.connection() as conn:
            return await self.risk_store.usage(conn, account_id, day)

    def _committed(self, orders: list) -> None:  # type: ignore[type-arg]
        for order in orders:
            if self.ownership.owns(order.partition):
                self.exposure.update(order)
        self.emulator.on_commit(orders)

    async def refresh_risk(self) -> None:
        with contextlib.suppress(DatabaseUnavailable):
            await self.risk_state.refresh()

    # -- ownership ----------------------------------------------------------------------------

    async def holds_lease(self, partition: int) -> bool:
        """Whether this instance owns ``partition`` under the lease's current epoch. An
        assignment that finds the partition still owned here is not enough: while this
        instance's take-overs ran (seconds each on a loaded host) the group could rebalance
        without it, another instance take the lease, and the next generation give the
        partition back here with no revocation in between (seen in the chaos test: the old
        epoch was kept, the next transaction fenced, the partition dropped and never taken
        again — its commands and in-doubt calls waited for good). A superseded one is given
        up first, so the take-over starts clean."""
        epoch = self.ownership.epochs().get(partition)
        if epoch is None:
            return False
        async with self.db.connection() as conn:
            current = await self.leases.current(conn, partition)
        if current is not None and current[0] == epoch:
            return True
        log.warning(
            "partition assigned again, its lease superseded meanwhile: taken over again",
            extra={"partition": partition, "epoch": epoch, "current": current},
        )
        await self.give_up({partition})
        return False

    async def take_over(self, partition: int) -> None:
        epoch = await self.leases.acquire(partition, self.instance_id)
        async with self.db.connection() as conn:
            orders = await self.repo.open_orders(conn, partitions=[partition])
            unsettled = await self.outbox.unsettled(conn, [partition])
        # calls the previous owner claimed and never recorded: in doubt, never sent blindly
        async with self.db.transaction() as conn:
            for row in unsettled:
                await self.outbox.in_doubt(conn, row.id)
        self.exposure.load(orders)
        await self.emulator.load([partition])
        self.ownership.grant(partition, epoch)
        self.sender.doubt(unsettled)
        for account_id, exchange in sorted(
            {(o.account_id, o.exchange) for o in orders if at_venue(o)}
        ):
            self.tracker.ensure(account_id, exchange)
        self._tasks.append(
            asyncio.create_task(self._first_reconcile(partition), name=f"om-reconcile-{partition}")
        )
        log.info(
            "partition taken over",
            extra={
                "partition": partition,
                "epoch": epoch,
                "open_orders": len(orders),
                "in_doubt": len(unsettled),
            },
        )
        self.ledger.calls_ready()

    async def _first_reconcile(self, partition: int) -> None:
        try:
            await self.tracker.reconcile([partition])
        except Exception as exc:
            log.warning(
                "first reconcile failed", extra={"partition": partition, "error": repr(exc)}
            )

    async def give_up(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.ownership.drop(partition)
        await self.sender.drain(partitions)
        self.sender.forget(partitions)
        self.tracker.stop_partitions(partitions)
        self.emulator.forget(partitions)
        await self.emulator.flush()
        self.exposure.forget_partitions(partitions)
        with contextlib.suppress(Exception):
            await self.profiles.flush()
        log.info("partitions given up", extra={"partitions": sorted(partitions)})

    # -- commands -----------------------------------------------------------------------------

    async def handle_command(self, record: Record) -> None:
        message = record.message
        assert isinstance(message, orders_pb2.OrderCommand)
        try:
            command = from_proto(message)
        except InvalidCommand as exc:
            raise PoisonMessage(f"invalid command ({exc.field}): {exc.message}") from None
        try:
            await self.intake.handle(command)
        except (KeyReused, OrderNotFound, NotChangeable, AmendDenied) as exc:
            log.warning(
                "command refused",
                extra={
                    "account_id": command.origin.account_id,
                    "idempotency_key": command.origin.idempotency_key,
                    "kind": command.kind,
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
        except (NotOwner, Fenced) as exc:
            raise ConnectionError(f"partition not owned here now ({exc})") from None
        except TransientExchangeError as exc:
            # the venue (or auth's signing) is down, not the command: redelivered later, like
            # a database that is down (eip.resilience.is_transient), never dead-lettered
            raise DependencyUnavailable(f"venue unavailable ({exc})") from exc

    # -- running ------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._supervise(), name="om-runtime")
        try:
            yield
        finally:
            # the consumers finish the record in hand, give their partitions up and commit;
            # the loops are stopped after them
            for consumer in self._consumers:
                consumer.stop()
            if self._consuming:
                await asyncio.wait(self._consuming, timeout=STOP_S)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.sender.stop()
            await self.tracker.stop()
            await self.emulator.stop()
            with contextlib.suppress(Exception):
                await self.profiles.flush()
            await self.venues.close()
            await self.slippage.aclose()

    async def _supervise(self) -> None:
        await self._until(self.db.migrate, "order-management schema not migrated yet")
        await self._until(self.risk_state.refresh, "risk state not read yet")
        self.ready.set()
        producer = await self._producer()
        s = self.settings
        instance = uuid.uuid4().hex[:12]

        def commands() -> Consumer:
            return Consumer(
                ConsumerConfig(
                    s.kafka_bootstrap_servers,
                    s.group_id,
                    f"order-management-commands-{self.instance_id}",
                ),
                [self.topics.commands],
                self.handle_command,
                producer,
                rebalance_listener=Partitions(self),
            )

        def prices(topic: TopicSpec, handler: Handler, name: str) -> Callable[[], Consumer]:
            return lambda: Consumer(
                ConsumerConfig(
                    s.kafka_bootstrap_servers,
                    f"order-management-{name}-{instance}",
                    f"order-management-{name}",
                    auto_offset_reset="latest",
                ),
                [topic],
                handler,
                producer,
            )

        consumers: list[tuple[Callable[[], Consumer], bool]] = [
            (commands, True),
            (prices(self.topics.tickers, self.prices.handle_ticker, "tickers"), False),
            (prices(self.topics.trades, self.emulator.handle_trade, "trades"), False),
        ]
        balances = self.topic_balances
        if balances is not None:

            def balances_consumer() -> Consumer:
                # a group per instance from the earliest offset: the compacted topic read
                # whole is the latest balance of every key
                self._balances_consumer = Consumer(
                    ConsumerConfig(
                        s.kafka_bootstrap_servers,
                        f"order-management-balances-{instance}",
                        "order-management-balances",
                        auto_offset_reset="earliest",
                    ),
                    [dataclasses.replace(ACCOUNT_BALANCES, name=s.balances_topic)],
                    balances.handle,
                    producer,
                )
                return self._balances_consumer

            consumers.append((balances_consumer, False))
        relay = AuditTrail(s.audit_schema, producer, self.topics.audit, pool=self.deps.db)
        async with asyncio.TaskGroup() as group:
            if balances is not None:
                group.create_task(balances.watch(lambda: self._balances_consumer))
            for make, owns in consumers:
                self._consuming.append(group.create_task(self._consume(make, owns)))
            group.create_task(self.sender.run())
            group.create_task(self.sender.resolve_loop())
            group.create_task(self._relay_events(producer))
            group.create_task(self._relay_audit(relay))
            group.create_task(self.tracker.poll_loop())
            group.create_task(self.tracker.reconcile_loop())
            group.create_task(self.emulator.reload_loop())
            group.create_task(self.emulator.flush_loop())
            group.create_task(self._expiry_loop())
            group.create_task(self._risk_loop())
            group.create_task(self.listener.run())

    async def _consume(self, make: Callable[[], Consumer], commands: bool) -> None:
        """Start a consumer and run it; a consumer that could not start (Kafka not there yet)
        is made anew for the next attempt (aiokafka's cannot start twice)."""
        delay = 0.5
        while True:
            consumer = make()
            self._consumers.append(consumer)
            try:
                await consumer.start()
                break
            except Exception as exc:
                self._consumers.remove(consumer)
                log.warning(
                    "consumer not started yet", extra={"error": f"{type(exc).__name__}: {exc}"}
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        if commands:
            partitions = consumer.partitions_for(self.topics.commands.name)
            if partitions:
                self.ownership.partitions = len(partitions)
        await consumer.run()

    async def _relay_events(self, producer: Producer) -> None:
        headers = headers_for(self.topics.events)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ledger.events_queued.wait(), 1.0)
            self.ledger.events_queued.clear()
            try:
                # a full batch may leave more; commits made meanwhile set the event again
                while await self._relay_batch(producer, headers) >= RELAY_BATCH:
                    pass
            except Exception as exc:
                log.warning("order events not published yet", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)

    async def _relay_batch(self, producer: Producer, headers: list[tuple[str, bytes]]) -> int:
        owned = self.ownership.owned()
        if not owned:
            return 0
        async with self.db.connection() as conn:
            pending = await self.outbox.pending_events(conn, owned, RELAY_BATCH)
        if not pending:
            return 0
        batches = await producer.send_many(
            self.topics.events.name,
            [(order_id.encode(), payload, headers) for _, order_id, payload in pending],
        )
        await asyncio.gather(*(b.future for b in batches))
        async with self.db.connection() as conn:  # one DELETE: atomic without a transaction
            await self.outbox.published(conn, [i for i, _, _ in pending])
        return len(pending)

    async def _relay_audit(self, relay: AuditTrail) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ledger.audit_queued.wait(), 5.0)
            self.ledger.audit_queued.clear()
            try:
                # staged events first (this instance's, or any other's, a dead one's included),
                # then the chain's Kafka copy; commits made meanwhile are the next batch
                while await self.repo.chain_staged(RELAY_BATCH) >= RELAY_BATCH:
                    pass
                while await relay.relay() > 0:
                    pass
            except Exception as exc:
                log.warning("audit events not published yet", extra={"error": type(exc).__name__})
                await asyncio.sleep(1.0)

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            owned = self.ownership.owned()
            if owned:
                with contextlib.suppress(Exception):
                    await self.intake.expire_confirmations(owned)

    async def _risk_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.risk_refresh_s)
            await self.refresh_risk()
            with contextlib.suppress(Exception):
                await self.profiles.flush()

    async def _producer(self) -> Producer:
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
