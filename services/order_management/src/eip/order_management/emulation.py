"""The platform's own stops, take-profits and trailing stops (and the stop legs of OCO lists and
brackets), fired from the live trades on ``md.trades.v1``.

The owner of a partition keeps its armed triggers in memory, indexed by instrument (loaded when
it takes the partition over, kept current from every committed change). Each trade of an
instrument is shown to its triggers (``triggers.observe``); one that fires is fired in one
transaction fenced by the partition's lease: the trigger row is marked fired only if it was not
(``TriggerStore.fire``), the order moves EMULATED -> TRIGGERED with the level it fired at, and its
placement is queued (an OCO's stop leg waits for its limit leg to leave the venue,
``lists.py``). Its client order id is the one the order has had since it was placed, derived
from its idempotency key. So a trigger fires once across restarts, redeliveries and owners, and
what it places can only ever be one order at the venue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal, InvalidOperation

from prometheus_client import Counter, Gauge

from eip.bus import Record
from eip.events.v1 import market_data_pb2
from eip.order_management import triggers as rules
from eip.order_management.ledger import Ledger, Tx
from eip.order_management.orders import ListRole, Order
from eip.order_management.ownership import NotOwner
from eip.order_management.state_machine import Event, OrderState
from eip.order_management.storage import Fenced
from eip.order_management.storage.triggers import Trigger, TriggerStore

log = logging.getLogger(__name__)
ACTOR = "order-management:emulator"

FIRED = Counter("eip_order_management_triggers_fired_total", "Emulated triggers fired", ["kind"])
ARMED = Gauge("eip_order_management_triggers_armed", "Emulated triggers armed on this instance")


class Emulator:
    def __init__(
        self, ledger: Ledger, store: TriggerStore, *, flush_interval_s: float = 0.5
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.ownership = ledger.ownership
        self.flush_interval_s = flush_interval_s
        self._by_instrument: dict[tuple[str, str], dict[str, Trigger]] = {}
        self._dirty: dict[str, Trigger] = {}
        self._firing: set[str] = set()
        self._reload: set[str] = set()
        self._reload_wakeup = asyncio.Event()
        self.last_trade: dict[tuple[str, str], Decimal] = {}

    # -- the index ----------------------------------------------------------------------------

    def _put(self, trigger: Trigger) -> None:
        if trigger.fired_at is not None:
            return
        self._by_instrument.setdefault((trigger.exchange, trigger.symbol), {})[trigger.order_id] = (
            trigger
        )
        ARMED.set(self.armed())

    def _remove(self, order_id: str) -> None:
        for key, triggers in list(self._by_instrument.items()):
            if triggers.pop(order_id, None) is not None and not triggers:
                del self._by_instrument[key]
        self._dirty.pop(order_id, None)
        ARMED.set(self.armed())

    def armed(self) -> int:
        return sum(len(t) for t in self._by_instrument.values())

    async def load(self, partitions: list[int]) -> None:
        async with self.ledger.db.connection() as conn:
            for trigger in await self.store.armed(conn, partitions):
                self._put(trigger)

    def forget(self, partitions: set[int]) -> None:
        for triggers in self._by_instrument.values():
            for order_id, trigger in list(triggers.items()):
                if trigger.partition in partitions:
                    del triggers[order_id]
                    self._dirty.pop(order_id, None)
        self._by_instrument = {k: v for k, v in self._by_instrument.items() if v}
        ARMED.set(self.armed())

    def on_commit(self, orders: list[Order]) -> None:
        """Keep the index current: an emulated order changed (armed, amended, released from its
        entry) is read again; one that left EMULATED is dropped."""
        for order in orders:
            if order.state is OrderState.EMULATED and self.ownership.owns(order.partition):
                self._reload.add(order.order_id)
            else:
                self._remove(order.order_id)
        if self._reload:
            self._reload_wakeup.set()

    async def reload_loop(self) -> None:
        while True:
            await self._reload_wakeup.wait()
            self._reload_wakeup.clear()
            ids, self._reload = self._reload, set()
            try:
                async with self.ledger.db.connection() as conn:
                    for order_id in ids:
                        trigger = await self.store.get(conn, order_id)
                        self._remove(order_id)
                        if trigger is not None:
                            self._put(trigger)
            except Exception as exc:
                log.warning("trigger reload failed, retrying", extra={"error": repr(exc)})
                self._reload |= ids
                await asyncio.sleep(1)
                self._reload_wakeup.set()

    # -- trades -------------------------------------------------------------------------------

    async def handle_trade(self, record: Record) -> None:
        trade = record.message
        assert isinstance(trade, market_data_pb2.Trade)
        try:
            price = Decimal(trade.price)
        except InvalidOperation:
            return
        if not price.is_finite() or price <= 0:
            return
        await self.observe(trade.instrument.exchange, trade.instrument.symbol, price)

    async def observe(self, exchange: str, symbol: str, price: Decimal) -> int:
        """Show one trade price to the instrument's triggers; returns how many fired."""
        self.last_trade[(exchange, symbol)] = price
        triggers = self._by_instrument.get((exchange, symbol))
        if not triggers:
            return 0
        fired = 0
        for order_id, trigger in list(triggers.items()):
            if order_id in self._firing or not self.ownership.owns(trigger.partition):
                continue
            updated, fires = rules.observe(trigger, price)
            if updated != trigger:
                triggers[order_id] = updated
                self._dirty[order_id] = updated
            if fires:
                self._firing.add(order_id)
                try:
                    if await self.fire(updated, price):
                        fired += 1
                finally:
                    self._firing.discard(order_id)
        return fired

    async def fire(self, trigger: Trigger, price: Decimal) -> bool:
        level = rules.level(trigger)

        async def work(tx: Tx) -> bool:
            if not await self.store.fire(tx.conn, trigger.order_id):
                return False  # fired before (another pass, a restart, another owner)
            order = await tx.order(trigger.order_id)
            if order is None or order.state is not OrderState.EMULATED:
                return False
            fired = tx.change(
                order,
                Event.TRIGGER,
                actor=ACTOR,
                triggered=True,
                trigger_price=level,
                reason=f"trigger {level} reached by a trade at {price}",
            )
            if fired.list_role is not ListRole.STOP_LEG:
                await tx.enqueue(fired, "place")
            return True

        try:
            done = await self.ledger.run(trigger.partition, work)
        except (NotOwner, Fenced):
            return False
        self._remove(trigger.order_id)
        if done:
            FIRED.labels(trigger.kind).inc()
            log.info(
                "emulated trigger fired",
                extra={"order_id": trigger.order_id, "level": str(level), "price": str(price)},
            )
        return done

    async def flush_loop(self) -> None:
        """Save moved watermarks, so a restart resumes trailing stops where they stood."""
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self.flush()

    async def flush(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        marks = [
            (t.order_id, t.watermark, t.active) for t in dirty.values() if t.kind == "trailing"
        ]
        if not marks:
            return
        try:
            async with self.ledger.db.transaction() as conn:
                await self.store.save_watermarks(conn, marks)
        except Exception as exc:
            log.warning("watermarks not saved yet", extra={"error": repr(exc)})
            for order_id, trigger in dirty.items():
                self._dirty.setdefault(order_id, trigger)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.flush()
