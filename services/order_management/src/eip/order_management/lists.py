"""Order lists the platform runs itself: OCO and bracket, kept consistent in the same transaction
as every change of one of their legs (a ``Ledger.before_write`` hook).

An emulated OCO is a limit leg at the venue and a stop leg held by the platform, so at most one
of them can execute at the venue at any time:

- the limit leg executes (even partly): the stop leg is cancelled (it never reached the venue);
- the stop leg's trigger fires: the limit leg is cancelled at the venue first; only once that
  cancel is confirmed is the stop leg sent, for the list's quantity less what the limit leg
  filled meanwhile (nothing is sent if that is nothing);
- the limit leg ends otherwise (cancelled, expired, rejected) before the trigger: the list is
  over and the stop leg is cancelled.

A bracket is an entry order and, once the entry is done, such an OCO of a take-profit (limit
leg) and a stop-loss (stop leg) on the other side, for the quantity the entry filled: they wait
(EMULATED, trigger ``entry``) until then, and are cancelled if the entry filled nothing.
Cancelling any leg cancels the list (``intake``).
"""

from __future__ import annotations

from decimal import Decimal

from eip.order_management.ledger import Tx
from eip.order_management.orders import ListRole, Order
from eip.order_management.state_machine import Event, OrderState
from eip.order_management.storage.triggers import TriggerStore

ACTOR = "order-management:lists"
ZERO = Decimal(0)
_AT_VENUE = frozenset(
    {
        OrderState.SUBMITTED,
        OrderState.ACCEPTED,
        OrderState.TRIGGERED,
        OrderState.PARTIALLY_FILLED,
        OrderState.PENDING_AMEND,
    }
)


class ListRules:
    def __init__(self, triggers: TriggerStore) -> None:
        self.triggers = triggers

    async def __call__(self, tx: Tx) -> None:
        lists = {c.after.list_id for c in tx.changes[tx.followed :] if c.after.list_id}
        tx.followed = len(tx.changes)
        for list_id in sorted(lists):
            await self._settle(tx, list_id)

    async def _legs(self, tx: Tx, list_id: str) -> dict[ListRole, Order]:
        stored = await tx.repo.children(tx.conn, list_id=list_id)
        locked = await tx.repo.get_many(tx.conn, [o.order_id for o in stored], lock=True)
        legs = [tx.latest(order_id) or order for order_id, order in locked.items()]
        return {leg.list_role: leg for leg in legs}

    async def _settle(self, tx: Tx, list_id: str) -> None:
        legs = await self._legs(tx, list_id)
        entry = legs.get(ListRole.ENTRY)
        limit = legs.get(ListRole.LIMIT_LEG)
        stop = legs.get(ListRole.STOP_LEG)
        if limit is None or stop is None:
            return
        if entry is not None and self._waiting(limit) and self._waiting(stop):
            await self._after_entry(tx, entry, limit, stop)
            return
        if self._waiting(limit) or self._waiting(stop) or limit.list_native:
            return  # a native OCO's contingency is the venue's
        await self._oco(tx, limit, stop)

    @staticmethod
    def _waiting(leg: Order) -> bool:
        return leg.awaits_entry and not leg.state.is_final

    async def _after_entry(self, tx: Tx, entry: Order, limit: Order, stop: Order) -> None:
        if not entry.state.is_final and entry.state is not OrderState.LOST:
            return
        filled = entry.filled_quantity
        if filled <= ZERO:
            for leg in (limit, stop):
                await self._cancel_local(tx, leg, "the bracket's entry filled nothing")
            return
        done = {"quantity": filled, "awaits_entry": False, "reason": ""}
        limit = tx.change(limit, Event.RELEASE, actor=ACTOR, emulated=False, **done)
        await self.triggers.delete(tx.conn, limit.order_id)
        if limit.list_native:  # both legs to the venue in one call, as one OCO
            stop = tx.change(stop, Event.RELEASE, actor=ACTOR, emulated=False, **done)
            await self.triggers.delete(tx.conn, stop.order_id)
            await tx.enqueue(limit, "place_oco", {"stop_order_id": stop.order_id})
            return
        await tx.enqueue(limit, "place")
        stop = tx.change(stop, Event.AMEND_LOCAL, actor=ACTOR, **done)
        trigger = await self.triggers.get(tx.conn, stop.order_id, lock=True)
        if trigger is not None:
            await self.triggers.update(tx.conn, trigger.with_(kind="price"))

    async def _oco(self, tx: Tx, limit: Order, stop: Order) -> None:
        # the limit leg executed first (even partly): the stop leg never goes
        if stop.state is OrderState.EMULATED and limit.filled_quantity > ZERO:
            await self._cancel_local(tx, stop, "the limit leg executed")
            return
        if stop.state is OrderState.EMULATED and limit.state.is_final:
            await self._cancel_local(tx, stop, f"the limit leg ended ({limit.state.value})")
            return
        if stop.state is not OrderState.TRIGGERED or stop.sent:
            return
        if await self._placement_queued(tx, stop):
            return
        # the stop fired: the limit leg leaves the venue before the stop leg goes there
        if limit.state is OrderState.PENDING_NEW:
            limit = tx.change(
                limit, Event.CANCEL_LOCAL, actor=ACTOR, reason="the stop leg triggered"
            )
            await tx.outbox.delete_for_order(tx.conn, limit.order_id)
        elif limit.state in _AT_VENUE:
            limit = tx.change(
                limit, Event.CANCEL_REQUESTED, actor=ACTOR, reason="the stop leg triggered"
            )
            await tx.enqueue(limit, "cancel")
            return
        if not limit.state.is_final and limit.state is not OrderState.LOST:
            return  # its cancel is in flight: the stop leg waits for the answer
        assert stop.quantity is not None
        remaining = stop.quantity - limit.filled_quantity
        if remaining <= ZERO:
            await self._cancel_local(tx, stop, "the limit leg filled the list")
            return
        await tx.enqueue(stop, "place", {"quantity": str(remaining)})

    async def _placement_queued(self, tx: Tx, order: Order) -> bool:
        rows = await tx.outbox.for_order(tx.conn, order.order_id)
        return any(r.action == "place" for r in rows)

    async def _cancel_local(self, tx: Tx, leg: Order, reason: str) -> None:
        if leg.state.is_final:
            return
        tx.change(leg, Event.CANCEL_LOCAL, actor=ACTOR, reason=f"contingency: {reason}")
        await self.triggers.delete(tx.conn, leg.order_id)
        await tx.outbox.delete_for_order(tx.conn, leg.order_id)
