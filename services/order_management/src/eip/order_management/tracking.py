"""Following orders at the venues: the private stream of every venue account whose orders this
instance owns, REST polling while a stream is stale or down, and the reconcile pass.

- **Streams.** One task per (account, exchange) with orders at the venue, started when a call
  goes there and when a partition is taken over, ended after ``stream_idle_s`` without open
  orders. Order updates and fills are applied (``observe``); balance pushes keep the balance
  source fresh. The adapter reconnects and catches up over REST by itself; this task restarts
  the stream if it ends.
- **Polling.** Every ``poll_interval_s``, each tracked account whose stream is stale or not
  connected has its open orders fetched by client order id.
- **Reconcile** (when a partition is taken over, then every ``reconcile_interval_s``): the
  venue's open orders against the local ones, and the fills since the stored cursor. A venue
  order the platform does not know is adopted (flagged, alerted); a local order the venue does
  not know — neither among its open orders nor by its client order id — after ``lost_after``
  passes in a row is declared LOST and alerted, never dropped silently. What is subtle: an
  order whose placement is still in the outbox (in doubt, or on its way) is not counted, even
  when it is PENDING_CANCEL (a cancel requested while the placement was in doubt): the venue
  not knowing it then is what a placement that never arrived looks like, and only the
  resolver can prove that (after the in-doubt horizon) and end it CANCELED or send it again.
  Counting it raced the resolver under load: a placement that never reached the venue was
  declared LOST, and the resolver then dropped its call as settled, leaving it LOST for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from prometheus_client import Counter, Gauge

from eip.exchanges.contract.errors import CredentialRejected, NotSupported, OrderNotFound
from eip.exchanges.contract.trading import (
    BalanceUpdate,
    FillCursor,
    FillEvent,
    OrderUpdate,
    StreamResumed,
    TradingAdapter,
    VenueFill,
    VenueOrder,
)
from eip.order_management.ledger import Ledger, Tx
from eip.order_management.observe import adopt, apply_fill, apply_venue
from eip.order_management.orders import Order
from eip.order_management.ownership import NotOwner
from eip.order_management.state_machine import Event, OrderState
from eip.order_management.storage import Fenced
from eip.order_management.storage.risk import RiskStore
from eip.order_management.venues import AdapterBalances, Venues

log = logging.getLogger(__name__)

LOST = Counter("eip_order_management_lost_total", "Orders declared lost")
ADOPTED = Counter("eip_order_management_adopted_total", "Venue orders adopted")
STREAMS = Gauge("eip_order_management_private_streams", "Private streams followed")
POLLS = Counter(
    "eip_order_management_polls_total", "Orders polled over REST while a stream was stale"
)

# States in which the venue has (or may have) the order: followed and reconciled.
AT_VENUE = frozenset(
    {
        OrderState.SUBMITTED,
        OrderState.ACCEPTED,
        OrderState.TRIGGERED,
        OrderState.PARTIALLY_FILLED,
        OrderState.PENDING_CANCEL,
        OrderState.PENDING_AMEND,
    }
)


@dataclass(frozen=True, slots=True)
class TrackingSettings:
    poll_interval_s: float = 2.0
    reconcile_interval_s: float = 60.0
    lost_after: int = 3
    stream_idle_s: float = 300.0
    retry_s: float = 2.0


def at_venue(order: Order) -> bool:
    if order.state not in AT_VENUE:
        return False
    return not (order.state is OrderState.TRIGGERED and order.emulated and not order.sent)


def news(order: Order, venue: VenueOrder) -> bool:
    """Whether the venue's view may change ``order`` as read (its update key above the one
    applied). A view that is not news is skipped without a transaction: ``apply_venue`` would
    leave the order as it is, and polls and reconcile passes re-read every open order, which
    made a fenced transaction per open order per pass most of the path's database work
    (docs/ORDER_MANAGEMENT.md, "Measurements"). Read before the transaction, the stored key can
    only have grown since, so a view skipped here is never one the transaction would apply."""
    return order.venue_key is None or venue.update_key() > order.venue_key


class Tracker:
    def __init__(
        self,
        ledger: Ledger,
        venues: Venues,
        balances: AdapterBalances | None,
        risk_store: RiskStore,
        settings: TrackingSettings,
    ) -> None:
        self.ledger = ledger
        self.repo = ledger.repo
        self.venues = venues
        self.balances = balances
        self.risk_store = risk_store
        self.settings = settings
        self.ownership = ledger.ownership
        self._streams: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._last_open: dict[tuple[str, str], float] = {}
        self._missing: dict[str, int] = {}  # order id -> reconcile passes the venue lacked it
        self.on_lost: Callable[[Order], None] | None = None

    # -- streams ------------------------------------------------------------------------------

    def ensure(self, account_id: str, exchange: str) -> None:
        key = (account_id, exchange)
        self._last_open[key] = time.monotonic()
        task = self._streams.get(key)
        if task is None or task.done():
            self._streams[key] = asyncio.create_task(
                self._follow(account_id, exchange), name=f"om-stream-{account_id}-{exchange}"
            )
            STREAMS.set(len(self._streams))

    def stop_partitions(self, partitions: set[int]) -> None:
        for (account, exchange), task in list(self._streams.items()):
            if self.ownership.partition_of(account) in partitions:
                task.cancel()
                del self._streams[(account, exchange)]
        STREAMS.set(len(self._streams))

    async def stop(self) -> None:
        tasks = list(self._streams.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._streams.clear()

    def tracked(self) -> list[tuple[str, str]]:
        return list(self._streams)

    async def _follow(self, account_id: str, exchange: str) -> None:
        key = (account_id, exchange)
        while self.ownership.owns_account(account_id):
            try:
                adapter = await self.venues.adapter(account_id, exchange)
                async for event in adapter.private_events():
                    await self.handle(account_id, exchange, event)
                    if self._idle(key):
                        break
            except asyncio.CancelledError:
                raise
            except CredentialRejected as exc:
                log.warning(
                    "private stream: credential refused",
                    extra={"account_id": account_id, "exchange": exchange, "error": str(exc)},
                )
                await self.venues.drop(account_id, exchange)
            except Exception as exc:
                log.warning(
                    "private stream ended; restarting",
                    extra={"account_id": account_id, "exchange": exchange, "error": repr(exc)},
                )
            if self._idle(key):
                break
            await asyncio.sleep(self.settings.retry_s)
        self._streams.pop(key, None)
        STREAMS.set(len(self._streams))

    def _idle(self, key: tuple[str, str]) -> bool:
        return time.monotonic() - self._last_open.get(key, 0.0) > self.settings.stream_idle_s

    async def handle(self, account_id: str, exchange: str, event: object) -> None:
        if isinstance(event, OrderUpdate):
            await self.apply_order(account_id, event.order)
        elif isinstance(event, FillEvent):
            await self.apply_fill(account_id, event.fill)
        elif isinstance(event, BalanceUpdate):
            if self.balances is not None:
                self.balances.apply(account_id, event)
        elif isinstance(event, StreamResumed):
            log.info(
                "private stream resumed",
                extra={
                    "account_id": account_id,
                    "exchange": exchange,
                    "down_since": event.down_since.isoformat(),
                },
            )

    async def _find(
        self,
        tx: Tx,
        account_id: str,
        exchange: str,
        client_order_id: str | None,
        venue_order_id: str,
    ) -> Order | None:
        order = None
        if client_order_id:
            order = await self.repo.by_client_id(tx.conn, account_id, client_order_id, lock=True)
        if order is None:
            order = await self.repo.by_venue_id(
                tx.conn, account_id, exchange, venue_order_id, lock=True
            )
        return order

    async def apply_order(self, account_id: str, venue: VenueOrder) -> None:
        partition = self.ownership.partition_of(account_id)

        async def work(tx: Tx) -> None:
            order = await self._find(
                tx, account_id, venue.exchange, venue.client_order_id, venue.venue_order_id
            )
            if order is None:
                if await adopt(tx, account_id, partition, venue) is not None:
                    ADOPTED.inc()
                return
            self._missing.pop(order.order_id, None)
            await apply_venue(tx, order, venue, actor=f"venue:{venue.exchange}")

        await self._run(partition, work)

    async def apply_fill(self, account_id: str, fill: VenueFill) -> None:
        partition = self.ownership.partition_of(account_id)

        async def work(tx: Tx) -> None:
            order = await self._find(
                tx, account_id, fill.exchange, fill.client_order_id, fill.venue_order_id
            )
            if order is None:
                return  # an order the platform does not know: the reconcile pass adopts it
            _, new = await apply_fill(tx, order, fill, actor=f"venue:{fill.exchange}")
            if new:
                await self.risk_store.record_fill(
                    tx.conn,
                    account_id=account_id,
                    exchange=fill.exchange,
                    symbol=fill.symbol,
                    side=fill.side,
                    price=fill.price,
                    quantity=fill.quantity,
                    day=fill.time.astimezone(UTC).date(),
                )

        await self._run(partition, work)

    async def _run(self, partition: int, work: Callable[[Tx], object]) -> None:
        with contextlib.suppress(NotOwner, Fenced):
            await self.ledger.run(partition, work)  # type: ignore[arg-type]

    # -- polling ------------------------------------------------------------------------------

    async def poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval_s)
            for account_id, exchange in list(self._streams):
                adapter = self.venues.cached(account_id, exchange)
                if adapter is None:
                    continue
                status = adapter.status()
                if status.connected and not status.stale:
                    continue
                try:
                    await self.poll(account_id, exchange, adapter)
                except Exception as exc:
                    log.info("poll failed", extra={"account_id": account_id, "error": repr(exc)})

    async def poll(self, account_id: str, exchange: str, adapter: TradingAdapter) -> None:
        async with self.ledger.db.connection() as conn:
            orders = await self.repo.open_orders(conn, account_id=account_id, exchange=exchange)
        for order in orders:
            if not at_venue(order) or order.state is OrderState.SUBMITTED:
                continue  # a placement in doubt is the resolver's
            try:
                venue = await adapter.fetch_order(
                    order.symbol, client_order_id=order.client_order_id
                )
            except OrderNotFound:
                continue  # counted by the reconcile pass
            POLLS.inc()
            if news(order, venue):
                await self.apply_order(account_id, venue)

    # -- reconcile ----------------------------------------------------------------------------

    async def reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reconcile_interval_s)
            try:
                await self.reconcile(self.ownership.owned())
            except Exception as exc:
                log.warning("reconcile pass failed", extra={"error": repr(exc)})

    async def venue_accounts(self, partitions: list[int]) -> list[tuple[str, str]]:
        async with self.ledger.db.connection() as conn:
            cursor = await conn.execute(
                f"SELECT DISTINCT account_id, exchange FROM {self.ledger.db.t.orders}"
                " WHERE partition = ANY(%s) AND (open OR updated_at > now() - interval '1 day')",
                (partitions,),
            )
            return [(str(a), str(e)) for a, e in await cursor.fetchall()]

    async def reconcile(self, partitions: list[int]) -> None:
        for account_id, exchange in await self.venue_accounts(partitions):
            if not self.ownership.owns_account(account_id):
                continue
            try:
                await self.reconcile_account(account_id, exchange)
            except Exception as exc:
                log.warning(
                    "reconcile failed for an account",
                    extra={"account_id": account_id, "exchange": exchange, "error": repr(exc)},
                )

    async def reconcile_account(self, account_id: str, exchange: str) -> None:
        adapter = await self.venues.adapter(account_id, exchange)
        async with self.ledger.db.connection() as conn:
            local = [
                o
                for o in await self.repo.open_orders(conn, account_id=account_id, exchange=exchange)
                if at_venue(o)
            ]
        if local:
            self.ensure(account_id, exchange)
        venue_open = await adapter.fetch_open_orders()
        seen_ids = {v.client_order_id for v in venue_open if v.client_order_id} | {
            v.venue_order_id for v in venue_open
        }
        known = {o.client_order_id: o for o in local}
        for venue in venue_open:
            order = known.get(venue.client_order_id or "")
            if order is None or news(order, venue):
                await self.apply_order(account_id, venue)
        unseen = []
        for order in local:
            if order.client_order_id in seen_ids or (
                order.venue_order_id and order.venue_order_id in seen_ids
            ):
                self._missing.pop(order.order_id, None)
                continue
            if order.state is not OrderState.SUBMITTED:  # in doubt: the resolver asks for it
                unseen.append(order)
        async with self.ledger.db.connection() as conn:
            placing = await self.ledger.outbox.placing(conn, [o.order_id for o in unseen])
        for order in unseen:
            if order.order_id in placing:
                # its placement's outcome is not known yet (a cancel came while it was in
                # doubt): not knowing it may be the truth, which only the resolver can prove
                # (docs/ORDER_MANAGEMENT.md, "Exactly once", step 7)
                self._missing.pop(order.order_id, None)
                continue
            try:
                venue = await adapter.fetch_order(
                    order.symbol, client_order_id=order.client_order_id
                )
            except OrderNotFound:
                await self._missed(order)
                continue
            await self.apply_order(account_id, venue)
        await self._fills(account_id, exchange, adapter, {o.symbol for o in local})

    async def _missed(self, order: Order) -> None:
        misses = self._missing.get(order.order_id, 0) + 1
        self._missing[order.order_id] = misses
        if misses < self.settings.lost_after:
            return

        async def work(tx: Tx) -> Order | None:
            current = await tx.order(order.order_id)
            if current is None or current.state not in AT_VENUE:
                return None
            return tx.change(
                current,
                Event.DECLARE_LOST,
                actor="order-management:reconcile",
                reason=f"the venue did not know it in {misses} reconcile passes",
            )

        lost = await self.ledger.run(order.partition, work)
        self._missing.pop(order.order_id, None)
        if lost is not None:
            LOST.inc()
            log.error(
                "ALERT order lost: the venue does not know it",
                extra={
                    "alert": "order_lost",
                    "order_id": order.order_id,
                    "account_id": order.account_id,
                    "exchange": order.exchange,
                    "client_order_id": order.client_order_id,
                },
            )
            if self.on_lost is not None:
                self.on_lost(lost)

    async def _fills(
        self, account_id: str, exchange: str, adapter: TradingAdapter, symbols: set[str]
    ) -> None:
        symbols = symbols | await self._recent_symbols(account_id, exchange)
        for symbol in sorted(symbols):
            async with self.ledger.db.connection() as conn:
                cursor = await conn.execute(
                    f"SELECT cursor FROM {self.ledger.db.t.fill_cursors}"
                    " WHERE account_id = %s AND exchange = %s AND symbol = %s",
                    (account_id, exchange, symbol),
                )
                row = await cursor.fetchone()
            start = None if row is None else FillCursor(symbol, str(row[0]))
            try:
                page = await adapter.fetch_fills(symbol, start)
            except NotSupported:
                return
            for fill in page.fills:
                await self.apply_fill(account_id, fill)
                await self._adopt_unknown(account_id, exchange, adapter, fill)
            if page.next_cursor.value != (start.value if start else None):
                partition = self.ownership.partition_of(account_id)

                async def save(
                    tx: Tx, value: str = page.next_cursor.value, s: str = symbol
                ) -> None:
                    await tx.conn.execute(
                        f"INSERT INTO {self.ledger.db.t.fill_cursors}"
                        " (account_id, exchange, symbol, cursor)"
                        " VALUES (%s, %s, %s, %s) ON CONFLICT (account_id, exchange, symbol)"
                        " DO UPDATE SET cursor = excluded.cursor",
                        (account_id, exchange, s, value),
                    )

                await self._run(partition, save)

    async def _recent_symbols(self, account_id: str, exchange: str) -> set[str]:
        async with self.ledger.db.connection() as conn:
            cursor = await conn.execute(
                f"SELECT DISTINCT symbol FROM {self.ledger.db.t.orders} WHERE account_id = %s"
                " AND exchange = %s AND updated_at > now() - interval '1 day'",
                (account_id, exchange),
            )
            return {str(r[0]) for r in await cursor.fetchall()}

    async def _adopt_unknown(
        self, account_id: str, exchange: str, adapter: TradingAdapter, fill: VenueFill
    ) -> None:
        async with self.ledger.db.connection() as conn:
            known = await self.repo.by_venue_id(conn, account_id, exchange, fill.venue_order_id)
            if known is None and fill.client_order_id:
                known = await self.repo.by_client_id(conn, account_id, fill.client_order_id)
        if known is not None:
            return
        try:
            venue = await adapter.fetch_order(fill.symbol, venue_order_id=fill.venue_order_id)
        except OrderNotFound:
            return
        await self.apply_order(account_id, venue)
        await self.apply_fill(account_id, fill)
