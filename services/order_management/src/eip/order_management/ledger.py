"""The one way to change orders: a PostgreSQL transaction fenced by the account's partition
lease, collecting the order changes and venue calls it decides, written together at its end.

    async def work(tx: Tx) -> Order:
        order = await tx.order(order_id, lock=True)
        order = tx.change(order, Event.CANCEL_REQUESTED, actor=who)
        await tx.enqueue(order, "cancel")
        return order
    order = await ledger.run(partition, work)

What is subtle:

- The lease is checked (``FOR SHARE``) before anything else, so a fenced-out instance changes
  nothing (``Fenced``: it drops the partition at once).
- **Pipeline mode** (psycopg's ``conn.pipeline()``): statements are sent without waiting for
  each answer, and only a read the work needs (``fetchone``...) waits — carrying everything
  queued before it in the same round trip. So the BEGIN and the lease read leave together
  (the work runs only once the epoch is known to be ours), and every write (the command row,
  the orders, their events, event and audit records, outbox rows) leaves in one batch at the
  end together with the COMMIT. So the checks left there raise on the server instead of
  answering: the updates' version guard (``expect_one``, serialization_failure: run again)
  and the unique keys. One that fails aborts the transaction, nothing after it runs, the
  COMMIT rolls back, and the error is raised here when the batch is answered. A write whose
  effect the work needs to know now must fetch it (``RETURNING``), never read ``rowcount``
  (it is not known until the next sync).
- Changes are written at the end; their audit events are staged in the transaction
  (``audit_outbox``) and chained in batches after it, so no order transaction takes the
  platform audit chain's lock.
- Lock order: an order's row before its outbox rows and triggers, everywhere; a transaction
  that still loses a deadlock (two legs of one list changed at once) is run again.
- What must happen after the commit (wake the sender and the event relay, answer HTTP callers
  waiting for an order) runs only once the commit succeeded.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from psycopg import AsyncConnection
from psycopg.errors import DeadlockDetected, SerializationFailure

from eip.exchanges.contract.trading import VenueFill
from eip.order_management.orders import Order, change, create
from eip.order_management.ownership import Ownership
from eip.order_management.state_machine import Event
from eip.order_management.storage import (
    Change,
    Database,
    Fenced,
    Leases,
    OrderRepository,
    Outbox,
)
from eip.order_management.storage.outbox import Action, OutboxRow

log = logging.getLogger(__name__)
T = TypeVar("T")


RETRIES = 5


class _Retry(Exception):
    """The transaction lost a deadlock or a race: run it again."""


class Tx:
    def __init__(self, conn: AsyncConnection, repo: OrderRepository, outbox: Outbox) -> None:
        self.conn = conn
        self.repo = repo
        self.outbox = outbox
        self.changes: list[Change] = []
        self.queued = 0  # venue calls enqueued (or put back in the queue)
        self.enqueued = 0  # of them, new calls ready at once (``enqueue``)
        self.touched: set[str] = set()
        self.followed = 0  # changes the list rules have looked at
        # fill totals read ahead (``order_and_call``), each used once; a fill added drops it
        self._fills: dict[str, Callable[[], Awaitable[tuple[Decimal, Decimal]]]] = {}

    def latest(self, order_id: str) -> Order | None:
        """The order as this transaction left it so far (None: not changed here)."""
        for c in reversed(self.changes):
            if c.after.order_id == order_id:
                return c.after
        return None

    async def order(self, order_id: str, *, lock: bool = True) -> Order | None:
        return await self.repo.get(self.conn, order_id, lock=lock)

    async def order_and_call(
        self, order_id: str, row_id: int
    ) -> tuple[Order | None, OutboxRow | None]:
        """The order and one of its calls, both locked (the order first: lock order), with the
        order's fill totals read ahead for ``fill_totals`` — one round trip for the three."""
        order = await self.repo.reading(self.conn, order_id, lock=True)
        call = await self.outbox.reading(self.conn, row_id, lock=True)
        self._fills[order_id] = await self.repo.reading_fill_totals(self.conn, order_id)
        return await order(), await call()

    async def fill_totals(self, order_id: str) -> tuple[Decimal, Decimal]:
        """(quantity, quantity x price) of the order's stored fills, as of this transaction."""
        ahead = self._fills.pop(order_id, None)
        if ahead is not None:
            return await ahead()
        return await self.repo.fill_totals(self.conn, order_id)

    async def add_fill(self, order_id: str, fill: VenueFill) -> bool:
        """Store an execution once; False if it was stored before (a replay)."""
        self._fills.pop(order_id, None)  # read ahead of it: no longer the totals
        return await self.repo.add_fill(self.conn, order_id, fill)

    def create(self, event: Event, *, actor: str, **fields: Any) -> Order:
        order, record = create(event, actor=actor, **fields)
        self.changes.append(Change(order, record))
        self.touched.add(order.order_id)
        return order

    def change(
        self, order: Order, event: Event, *, actor: str, fill: Any = None, **changes: Any
    ) -> Order:
        updated, record = change(order, event, actor=actor, **changes)
        self.changes.append(Change(updated, record, before=order, fill=fill))
        self.touched.add(order.order_id)
        return updated

    async def enqueue(
        self, order: Order, action: Action, payload: Mapping[str, Any] | None = None
    ) -> None:
        self.queued += 1
        self.enqueued += 1
        await self.outbox.enqueue(self.conn, order.order_id, order.partition, action, payload)


class Ledger:
    def __init__(
        self,
        db: Database,
        repo: OrderRepository,
        outbox: Outbox,
        leases: Leases,
        ownership: Ownership,
    ) -> None:
        self.db = db
        self.repo = repo
        self.outbox = outbox
        self.leases = leases
        self.ownership = ownership
        # woken after commits: the sender (venue calls queued), the relays (events, audit)
        self.calls_queued = asyncio.Event()
        # what the sender should claim on its next pass: the partitions whose committed
        # transactions only enqueued calls ready now (claimed without looking first), or a
        # look at every owned partition (calls put back, a takeover)
        self._ready: set[int] = set()
        self._look = True
        self.events_queued = asyncio.Event()
        self.audit_queued = asyncio.Event()
        self._watchers: dict[str, list[Callable[[Order], None]]] = {}
        # run inside every transaction after its work, until they change nothing more (order
        # lists follow their legs); and after every commit with the orders it changed
        self.before_write: list[Callable[[Tx], Awaitable[None]]] = []
        self.on_commit: list[Callable[[list[Order]], None]] = []

    async def run(
        self, partition: int, work: Callable[[Tx], Awaitable[T]], *, epoch: int | None = None
    ) -> T:
        """``work`` in one transaction fenced by ``partition``'s lease (the epoch this instance
        holds, or ``epoch``); ``NotOwner`` / ``Fenced`` when it is not this instance's. A
        transaction that lost a deadlock or found an order changed under it is run again from
        the start (``work`` reads what it needs inside it, so it may be)."""
        for attempt in range(1, RETRIES + 1):
            try:
                return await self._run_once(partition, work, epoch)
            except _Retry:
                if attempt == RETRIES:
                    raise
                await asyncio.sleep(random.uniform(0, 0.02 * attempt))
        raise AssertionError("unreachable")

    async def _run_once(
        self, partition: int, work: Callable[[Tx], Awaitable[T]], epoch: int | None
    ) -> T:
        epoch = self.ownership.epoch(partition) if epoch is None else epoch
        async with self.db.connection() as conn:
            try:
                async with conn.pipeline(), conn.transaction():
                    # the BEGIN and the lease's read in one round trip; the work runs only once
                    # the epoch is known to be ours
                    await self.leases.check(conn, partition, epoch)
                    tx = Tx(conn, self.repo, self.outbox)
                    result = await work(tx)
                    await self._follow(tx)
                    staged = await self.repo.write(conn, tx.changes)
                # leaving the blocks sent the COMMIT behind the writes and took every answer
            except Fenced:
                self.ownership.drop(partition)
                log.warning("partition lease superseded: dropped", extra={"partition": partition})
                raise
            except (DeadlockDetected, SerializationFailure) as exc:
                log.info("transaction run again", extra={"error": type(exc).__name__})
                raise _Retry() from None
        self._after_commit(tx, bool(staged), partition)
        return result

    async def _follow(self, tx: Tx) -> None:
        seen = 0
        for _ in range(20):  # a list settles in a few rounds; more means a rule loops
            if seen == len(tx.changes):
                return
            seen = len(tx.changes)
            for hook in self.before_write:
                await hook(tx)
        raise RuntimeError("order list rules did not settle")

    def watch(self, order_id: str, callback: Callable[[Order], None]) -> Callable[[], None]:
        """Call ``callback`` with the order after each committed change of it, until the
        returned function is called."""
        self._watchers.setdefault(order_id, []).append(callback)

        def stop() -> None:
            callbacks = self._watchers.get(order_id)
            if callbacks and callback in callbacks:
                callbacks.remove(callback)
                if not callbacks:
                    del self._watchers[order_id]

        return stop

    def calls_ready(self, partition: int | None = None) -> None:
        """Wake the sender for calls ready in ``partition`` (None: look at every one)."""
        if partition is None:
            self._look = True
        else:
            self._ready.add(partition)
        self.calls_queued.set()

    def take_calls_ready(self) -> tuple[set[int], bool]:
        """(the partitions with new calls ready, whether to look at every partition) since the
        last call, for the sender's pass."""
        ready, look = self._ready, self._look
        self._ready, self._look = set(), False
        return ready, look

    def _after_commit(self, tx: Tx, audited: bool, partition: int) -> None:
        if tx.queued:
            self.calls_ready(partition if tx.queued == tx.enqueued else None)
        if tx.changes:
            self.events_queued.set()
        if audited:
            self.audit_queued.set()
        latest: dict[str, Order] = {}
        for c in tx.changes:
            latest[c.after.order_id] = c.after
        if latest:
            for hook in self.on_commit:
                hook(list(latest.values()))
        if self._watchers:
            for order_id, order in latest.items():
                for callback in list(self._watchers.get(order_id, ())):
                    callback(order)
