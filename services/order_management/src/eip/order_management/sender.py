"""The sender works the outbox of venue calls for the partitions this instance owns, and the
resolver settles the calls whose outcome is unknown. Together they are the exactly-once half of
order management that faces the venue (docs/ORDER_MANAGEMENT.md, "Exactly once").

A placement, step by step:

1. **Claim** (one transaction per partition, fenced by its lease): the oldest ready call of each
   order is marked ``sending`` with this instance's epoch and the database's time, and the order
   moves PENDING_NEW -> SUBMITTED (``sent``). Under a HALTED kill switch a placement is cancelled
   here instead of sent.
2. **Send**, once, only if fewer than ``send_deadline_s`` passed since before the claim (a
   sender that stalled longer gives the claim back instead: past the deadline a new owner may
   already be resolving it), the whole call — signing through auth included — cut off after
   ``call_timeout_s`` (a cut-off call is in doubt like a lost answer).
3. **Record** the answer (one transaction): the venue's order (accepted, filled ...) or its
   refusal (REJECTED), and the call is deleted. A failure that surely sent nothing (connection
   refused, rate limited, circuit open, signer unavailable) puts the order back to PENDING_NEW
   and the call back in the queue with a backoff — same client order id.
4. **Outcome unknown** (time-out, reset, 5xx after the request left; or an error this code did
   not expect): the call is marked ``in_doubt`` and nothing is sent again. The resolver asks the
   venue for the client order id (the private stream may answer first) until it is found — then
   recorded like an answer — or proven absent: the venue's authoritative lookup says it does not
   know it *and* ``in_doubt_horizon_s`` passed since the claim, after which no request of that
   claim can still reach the venue (at least the send deadline + the call's cut-off, which
   the settings enforce). Only then is it queued again, with the same client order id.

Calls left ``sending`` by an instance that died are in doubt for the new owner in the same way.
Cancels and amends are idempotent for the venue (an absolute quantity; cancelling twice is
harmless), so a failure there is retried with a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from prometheus_client import Counter, Histogram

from eip.exchanges.contract.errors import (
    CredentialRejected,
    ExchangeError,
    NotSupported,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    RejectReason,
    TransientExchangeError,
    UnknownExchange,
)
from eip.exchanges.contract.trading import OcoRequest, OrderRequest, TradingAdapter, VenueOrder
from eip.order_management.ledger import Ledger, Tx
from eip.order_management.observe import apply_venue
from eip.order_management.orders import Order
from eip.order_management.ownership import NotOwner
from eip.order_management.risk.engine import sent_type
from eip.order_management.risk.killswitch import KillState
from eip.order_management.risk.state import RiskState
from eip.order_management.state_machine import Event, OrderState
from eip.order_management.storage import Fenced, OutboxRow
from eip.order_management.storage.triggers import TriggerStore
from eip.order_management.triggers import trigger_for
from eip.order_management.venues import Venues

log = logging.getLogger(__name__)
ACTOR = "order-management:sender"
ZERO = Decimal(0)

SENT = Counter(
    "eip_order_management_venue_calls_total",
    "Venue calls by action and result",
    ["action", "result"],
)
IN_DOUBT = Counter(
    "eip_order_management_in_doubt_total",
    "Placements whose outcome was unknown, by how they were settled",
    ["settled"],
)
CALL_SECONDS = Histogram(
    "eip_order_management_venue_call_seconds",
    "Venue call time by action",
    ["action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@dataclass(frozen=True, slots=True)
class SenderSettings:
    batch: int = 100
    max_in_flight: int = 64
    poll_interval_s: float = 0.5
    send_deadline_s: float = 2.0
    # A placement call (signing through auth included) is cut off after this; a cut-off call
    # is in doubt like a lost answer. It bounds when a request of a claim can still arrive.
    call_timeout_s: float = 20.0
    in_doubt_horizon_s: float = 30.0
    retry_base_s: float = 0.5
    retry_max_s: float = 30.0
    resolve_interval_s: float = 1.0


@dataclass(frozen=True, slots=True)
class Claim:
    row: OutboxRow
    order: Order
    claimed_at: datetime
    started: float  # monotonic, before the claim's transaction began
    partner: Order | None = None  # a native OCO's stop leg, placed with ``order`` in one call


def _backoff(settings: SenderSettings, attempts: int) -> float:
    return float(min(settings.retry_max_s, settings.retry_base_s * 2.0 ** max(0, attempts - 1)))


def oco_request_for(limit: Order, stop: Order) -> OcoRequest:
    """Both legs of a native OCO in one request. The list's own client id is derived like an
    order's, from the list's idempotency key (``<key>#list``), and kept in the limit leg's
    placement so a retry names the same list."""
    assert limit.quantity is not None
    assert limit.price is not None
    assert stop.stop_price is not None
    return OcoRequest(
        symbol=limit.symbol,
        side=limit.side,
        quantity=limit.quantity,
        price=limit.price,
        stop_price=stop.stop_price,
        list_client_id=limit.list_client_id or limit.client_order_id,
        limit_client_order_id=limit.client_order_id,
        stop_client_order_id=stop.client_order_id,
        stop_limit_price=stop.price,
    )


def request_for(order: Order, payload: dict[str, Any]) -> OrderRequest:
    """The venue request of an order: emulated ones go as the market or limit order their
    trigger releases; a payload quantity (an OCO's stop leg, sized down) wins."""
    quantity = Decimal(payload["quantity"]) if payload.get("quantity") else order.quantity
    order_type = sent_type(order.type) if order.emulated else order.type
    return OrderRequest(
        symbol=order.symbol,
        side=order.side,
        type=order_type,
        client_order_id=order.client_order_id,
        quantity=quantity,
        quote_quantity=order.quote_quantity,
        price=order.price,
        stop_price=None if order.emulated else order.stop_price,
        trailing=None if order.emulated else order.trailing,
        time_in_force=order.time_in_force,
        expire_time=order.expire_time,
        post_only=order.post_only,
    )


class Sender:
    def __init__(
        self,
        ledger: Ledger,
        venues: Venues,
        risk: RiskState,
        settings: SenderSettings,
        triggers: TriggerStore,
        *,
        on_sent: Any = None,
    ) -> None:
        self.ledger = ledger
        self.venues = venues
        self.risk = risk
        self.settings = settings
        self.triggers = triggers
        self.ownership = ledger.ownership
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self._tasks: dict[asyncio.Task[None], int] = {}  # call in flight -> its partition
        self._doubts: dict[int, OutboxRow] = {}  # in-doubt calls to resolve, by row id
        self._doubt_wakeup = asyncio.Event()
        self._looked = 0.0  # monotonic time of the last look at every owned partition
        self.on_sent = on_sent  # (account, exchange): a call went to this venue account

    # -- the loops ----------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.ledger.calls_queued.wait(), self.settings.poll_interval_s
                )
            self.ledger.calls_queued.clear()
            try:
                await self.work_once()
            except Exception as exc:  # a database outage: wait and try again
                log.warning("sender pass failed", extra={"error": repr(exc)})
                await asyncio.sleep(self.settings.poll_interval_s)

    async def work_once(self) -> int:
        claims = await self.claim()
        for claim in claims:
            await self._slots.acquire()
            task = asyncio.create_task(self._send(claim), name=f"om-send-{claim.row.id}")
            self._tasks[task] = claim.row.partition
            task.add_done_callback(self._done)
        return len(claims)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("send task failed", exc_info=task.exception())

    async def drain(self, partitions: set[int] | None = None, timeout_s: float = 10.0) -> None:
        """Wait for calls in flight (of ``partitions``) to be recorded."""
        tasks = [t for t, p in self._tasks.items() if partitions is None or p in partitions]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- claiming -----------------------------------------------------------------------------

    async def claim(self) -> list[Claim]:
        claims: list[Claim] = []
        owned = self.ownership.owned()
        if not owned:
            return claims
        # Only partitions with calls ready run the fenced claiming transaction (measured:
        # passes that claimed nothing were most of the order path's transactions,
        # docs/ORDER_MANAGEMENT.md, "Measurements"). Those this instance's own commits just
        # filled are known without asking; otherwise, and at least every poll interval (calls
        # put back with a delay come due unannounced), one read (no transaction, no lease)
        # finds them.
        hinted, look = self.ledger.take_calls_ready()
        now = time.monotonic()
        if look or not hinted or now - self._looked >= self.settings.poll_interval_s:
            self._looked = now
            async with self.ledger.db.connection() as conn:
                ready = await self.ledger.outbox.claimable(conn, owned, self.settings.batch)
            busy = {row.partition for row in ready} | (hinted & set(owned))
            if len(ready) >= self.settings.batch:  # a full batch may hide other partitions'
                busy = set(owned)
        else:
            busy = hinted & set(owned)
        for partition in sorted(busy):
            started = time.monotonic()
            try:
                claims += await self.ledger.run(
                    partition, functools.partial(self._claim, partition=partition, started=started)
                )
            except (NotOwner, Fenced):
                continue
        return claims

    async def _claim(self, tx: Tx, *, partition: int, started: float) -> list[Claim]:
        # One statement finds the calls still ready (each the oldest of its order) and locks
        # them with their orders, skipping any another transaction holds: the claim never
        # waits. It comes back with the transaction's clock, the claim time of the calls.
        picked, claimed_at = await tx.outbox.lock_claimable(tx.conn, partition, self.settings.batch)
        if not picked or claimed_at is None:
            return []
        chosen: list[tuple[OutboxRow, Order, Order | None]] = []
        for row, order in picked:
            order = tx.latest(order.order_id) or order
            if row.action == "place_oco":
                legs = await self._ready_list(tx, row, order)
                if legs is not None:
                    chosen.append((row, legs[0], legs[1]))
                continue
            single = await self._ready(tx, row, order)
            if single is not None:
                chosen.append((row, single, None))
        await tx.outbox.mark_sending(
            tx.conn, [r.id for r, _, _ in chosen], self.ownership.epoch(partition)
        )
        return [Claim(r, o, claimed_at, started, partner) for r, o, partner in chosen]

    async def _ready_list(self, tx: Tx, row: OutboxRow, limit: Order) -> tuple[Order, Order] | None:
        """Both legs of a native OCO as they go out together, or None if the call is dropped."""
        stop = await tx.order(str(row.payload["stop_order_id"]))
        pending = OrderState.PENDING_NEW
        if stop is None or limit.state is not pending or stop.state is not pending:
            await tx.outbox.done(tx.conn, row.id)
            return None
        switch = self.risk.switch_for(limit.exchange, limit.account_id)
        if switch is not None and switch.state is KillState.HALTED:
            await tx.outbox.done(tx.conn, row.id)
            reason = f"halted before sending ({switch.level.value})"
            for leg in (limit, stop):
                tx.change(leg, Event.CANCEL_LOCAL, actor=ACTOR, reason=reason)
            return None
        return (
            tx.change(limit, Event.SEND, actor=ACTOR, sent=True),
            tx.change(stop, Event.SEND, actor=ACTOR, sent=True),
        )

    async def _ready(self, tx: Tx, row: OutboxRow, order: Order) -> Order | None:
        """The order as it goes out with this call, or None if the call is dropped."""
        if row.action == "place":
            if order.state not in (OrderState.PENDING_NEW, OrderState.TRIGGERED):
                await tx.outbox.done(tx.conn, row.id)  # cancelled meanwhile: nothing to send
                return None
            switch = self.risk.switch_for(order.exchange, order.account_id)
            if switch is not None and switch.state is KillState.HALTED:
                await tx.outbox.done(tx.conn, row.id)
                tx.change(
                    order,
                    Event.CANCEL_LOCAL,
                    actor=ACTOR,
                    reason=f"halted before sending ({switch.level.value})",
                )
                return None
            changes: dict[str, Any] = {"sent": True}
            if row.payload.get("quantity"):
                changes["quantity"] = Decimal(row.payload["quantity"])
            return tx.change(order, Event.SEND, actor=ACTOR, **changes)
        if row.action == "cancel" and order.state not in (
            OrderState.PENDING_CANCEL,
            OrderState.PENDING_AMEND,
        ):
            await tx.outbox.done(tx.conn, row.id)
            return None
        if row.action == "amend" and order.state is not OrderState.PENDING_AMEND:
            await tx.outbox.done(tx.conn, row.id)
            return None
        return order

    # -- sending ------------------------------------------------------------------------------

    async def _adapter(self, claim: Claim) -> TradingAdapter | None:
        order = claim.order
        try:
            return await self.venues.adapter(order.account_id, order.exchange)
        except (CredentialRejected, UnknownExchange) as exc:
            reason = f"no usable credential: {exc}"
            await self._record(claim, lambda tx, o: self._refused(tx, claim, o, reason))
        except Exception as exc:  # auth or the venue unreachable: nothing was sent
            log.warning("no adapter now", extra={"order_id": order.order_id, "error": repr(exc)})
            await self._record(claim, lambda tx, o: self._not_sent(tx, claim, o))
        return None

    async def _send(self, claim: Claim) -> None:
        adapter = await self._adapter(claim)
        if adapter is None:
            return
        if self.on_sent is not None:
            self.on_sent(claim.order.account_id, claim.order.exchange)
        action = claim.row.action
        started = time.monotonic()
        try:
            if action in ("place", "place_oco"):
                await self._place(claim, adapter)
            elif action == "cancel":
                await self._cancel(claim, adapter)
            else:
                await self._amend(claim, adapter)
        finally:
            CALL_SECONDS.labels(action).observe(time.monotonic() - started)

    async def _record(self, claim: Claim, work: Any) -> None:
        """Record the outcome of a claimed call, if this instance still owns its partition (the
        next owner resolves it otherwise)."""

        async def run(tx: Tx) -> None:
            if claim.partner is None:  # the order, its call and its fills in one round trip
                order, row = await tx.order_and_call(claim.order.order_id, claim.row.id)
            else:
                order = await tx.order(claim.order.order_id)  # orders before calls (lock order)
                await tx.order(claim.partner.order_id)
                row = await tx.outbox.get(tx.conn, claim.row.id, lock=True)
            epoch = self.ownership.epochs().get(claim.row.partition)
            if order is None or row is None or row.state != "sending" or row.claimed_epoch != epoch:
                return  # settled meanwhile (the stream answered first), or no longer ours
            await work(tx, order)

        for attempt in range(1, 6):
            try:
                await self.ledger.run(claim.row.partition, run)
                return
            except (NotOwner, Fenced):
                return
            except Exception as exc:
                log.warning(
                    "recording a venue answer failed",
                    extra={
                        "order_id": claim.order.order_id,
                        "attempt": attempt,
                        "error": repr(exc),
                    },
                )
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
        # PostgreSQL stayed away: the row stays 'sending'; on restart or takeover it is resolved
        log.error(
            "venue answer not recorded; the call will be resolved",
            extra={"order_id": claim.order.order_id},
        )

    async def _place(self, claim: Claim, adapter: TradingAdapter) -> None:
        if time.monotonic() - claim.started > self.settings.send_deadline_s:
            SENT.labels("place", "late").inc()
            await self._record(claim, lambda tx, o: self._not_sent(tx, claim, o))
            return
        try:
            if claim.partner is None:
                request = request_for(claim.order, dict(claim.row.payload))
                call = adapter.place_order(request)
                venues = [await asyncio.wait_for(call, self.settings.call_timeout_s)]
            else:
                request_list = oco_request_for(claim.order, claim.partner)
                oco = adapter.place_oco(request_list)
                venues = await asyncio.wait_for(oco, self.settings.call_timeout_s)
        except OrderRejected as exc:
            if exc.reason is RejectReason.DUPLICATE_CLIENT_ORDER_ID:
                # the venue has an order with this id: an earlier send did arrive
                SENT.labels("place", "duplicate").inc()
                await self._record(claim, lambda tx, o: self._doubt(tx, claim))
            elif exc.reason is RejectReason.RATE_LIMITED:
                SENT.labels("place", "not_sent").inc()
                wait = exc.retry_after_s
                await self._record(claim, lambda tx, o: self._not_sent(tx, claim, o, wait))
            else:
                SENT.labels("place", "rejected").inc()
                if exc.reason is RejectReason.MARKET_CLOSED:
                    self.venues.forget_rules(claim.order.exchange)
                reason = f"{exc.reason.value}: {exc}"
                await self._record(claim, lambda tx, o: self._refused(tx, claim, o, reason))
        except (OutcomeUnknown, TimeoutError):
            SENT.labels("place", "unknown").inc()
            await self._record(claim, lambda tx, o: self._doubt(tx, claim))
        except CredentialRejected as exc:
            SENT.labels("place", "credential").inc()
            await self.venues.drop(claim.order.account_id, claim.order.exchange)
            reason = f"credential refused: {exc}"
            await self._record(claim, lambda tx, o: self._refused(tx, claim, o, reason))
        except NotSupported as exc:
            SENT.labels("place", "unsupported").inc()
            conditional = claim.order.type.is_conditional and not claim.order.emulated
            if conditional or claim.partner is not None:
                # the capability is broader than this order (a venue that trails in basis points
                # only): nothing was sent, so the platform holds the trigger instead
                await self._record(claim, lambda tx, o: self._emulate(tx, claim, o))
            else:
                reason = f"not supported: {exc}"
                await self._record(claim, lambda tx, o: self._refused(tx, claim, o, reason))
        except ExchangeError as exc:
            if isinstance(exc, TransientExchangeError):
                # the contract: for a placement these mean "not placed" (OutcomeUnknown aside)
                SENT.labels("place", "not_sent").inc()
                retry_after = getattr(exc, "retry_after_s", None)
                await self._record(claim, lambda tx, o: self._not_sent(tx, claim, o, retry_after))
            else:
                SENT.labels("place", "refused").inc()
                reason = f"{type(exc).__name__}: {exc}"
                await self._record(claim, lambda tx, o: self._refused(tx, claim, o, reason))
        except Exception as exc:  # a bug or a surprise: the request may have left, so in doubt
            log.error("placement failed unexpectedly: in doubt", exc_info=exc)
            SENT.labels("place", "unknown").inc()
            await self._record(claim, lambda tx, o: self._doubt(tx, claim))
        else:
            SENT.labels("place", "ok").inc()
            await self._record(claim, lambda tx, o: self._answered(tx, claim, o, venues))

    async def _legs(self, tx: Tx, claim: Claim, order: Order) -> list[Order]:
        """The orders a claimed call is about, as they are now (locked by ``_record``)."""
        if claim.partner is None:
            return [order]
        partner = await tx.order(claim.partner.order_id)
        assert partner is not None
        return [order, tx.latest(partner.order_id) or partner]

    async def _answered(self, tx: Tx, claim: Claim, order: Order, venues: list[VenueOrder]) -> None:
        await tx.outbox.done(tx.conn, claim.row.id)
        legs = {leg.client_order_id: leg for leg in await self._legs(tx, claim, order)}
        for venue in venues:
            leg = legs.get(venue.client_order_id or "")
            if leg is not None:
                await apply_venue(tx, leg, venue, actor=f"venue:{leg.exchange}")

    async def _refused(self, tx: Tx, claim: Claim, order: Order, reason: str) -> None:
        await tx.outbox.done(tx.conn, claim.row.id)
        if claim.row.action in ("place", "place_oco"):
            for leg in await self._legs(tx, claim, order):
                leg = tx.latest(leg.order_id) or leg
                if leg.state in (OrderState.SUBMITTED, OrderState.PENDING_CANCEL):
                    actor = f"venue:{leg.exchange}"
                    tx.change(leg, Event.V_REJECTED, actor=actor, reason=reason[:500])
        elif claim.row.action == "cancel" and order.state is OrderState.PENDING_CANCEL:
            tx.change(
                order, Event.CANCEL_FAILED, actor=f"venue:{order.exchange}", reason=reason[:500]
            )
        elif order.state is OrderState.PENDING_AMEND:
            tx.change(
                order, Event.AMEND_FAILED, actor=f"venue:{order.exchange}", reason=reason[:500]
            )

    async def _not_sent(
        self, tx: Tx, claim: Claim, order: Order, retry_after_s: float | None = None
    ) -> None:
        delay = max(_backoff(self.settings, claim.row.attempts), retry_after_s or 0.0)
        if claim.row.action in ("place", "place_oco"):
            canceled = False
            for leg in await self._legs(tx, claim, order):
                leg = tx.latest(leg.order_id) or leg
                if leg.state is OrderState.SUBMITTED:
                    tx.change(leg, Event.V_NOT_FOUND, actor=ACTOR, reason="not sent; queued again")
                elif leg.state is OrderState.PENDING_CANCEL:
                    tx.change(leg, Event.V_NOT_FOUND, actor=ACTOR, reason="never sent; cancelled")
                    canceled = True
            if canceled:
                await tx.outbox.delete_for_order(tx.conn, order.order_id)
                return
        await tx.outbox.retry(tx.conn, claim.row.id, delay)
        tx.queued += 1

    async def _emulate(self, tx: Tx, claim: Claim, order: Order) -> None:
        """The venue cannot take this natively after all and nothing was sent: the platform
        holds the trigger (a native OCO becomes the platform's: its limit leg goes alone)."""
        await tx.outbox.done(tx.conn, claim.row.id)
        for leg in await self._legs(tx, claim, order):
            leg = tx.latest(leg.order_id) or leg
            if leg.state is not OrderState.SUBMITTED:
                continue
            back = tx.change(
                leg,
                Event.V_NOT_FOUND,
                actor=ACTOR,
                sent=False,
                list_native=False,
                reason="not native here",
            )
            if back.type.is_conditional:
                armed = tx.change(back, Event.ARM, actor=ACTOR, emulated=True)
                await self.triggers.insert(tx.conn, trigger_for(armed))
            else:
                await tx.enqueue(back, "place")

    async def _doubt(self, tx: Tx, claim: Claim) -> None:
        await tx.outbox.in_doubt(tx.conn, claim.row.id)
        self._doubts[claim.row.id] = claim.row
        self._doubt_wakeup.set()

    async def _cancel(self, claim: Claim, adapter: TradingAdapter) -> None:
        order = claim.order
        try:
            venue = await adapter.cancel_order(
                order.symbol,
                client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id,
            )
        except OrderNotFound:
            SENT.labels("cancel", "not_found").inc()
            await self._cancel_not_found(claim, adapter)
        except OrderRejected as exc:
            SENT.labels("cancel", "rejected").inc()
            reason = f"{exc.reason.value}: {exc}"
            await self._record(claim, lambda tx, o: self._refused(tx, claim, o, reason))
        except Exception as exc:  # idempotent: try again later
            SENT.labels("cancel", "retry").inc()
            log.warning(
                "cancel failed, will retry", extra={"order_id": order.order_id, "error": repr(exc)}
            )
            await self._record(claim, lambda tx, o: self._not_sent(tx, claim, o))
        else:
            SENT.labels("cancel", "ok").inc()

            async def record(tx: Tx, current: Order) -> None:
                # applied before the call is deleted: a confirmed cancel of a cancel-replace
                # finds the replacement's terms on it (observe.py)
                updated = await apply_venue(tx, current, venue, actor=f"venue:{current.exchange}")
                if await tx.outbox.get(tx.conn, claim.row.id) is not None:
                    await tx.outbox.done(tx.conn, claim.row.id)
                if (
                    updated.state in (OrderState.PENDING_CANCEL, OrderState.PENDING_AMEND)
                    and venue.status.is_open
                ):
                    event = (
                        Event.CANCEL_FAILED
                        if updated.state is OrderState.PENDING_CANCEL
                        else Event.AMEND_FAILED
                    )
                    tx.change(
                        updated,
                        event,
                        actor=f"venue:{current.exchange}",
                        reason="the venue kept the order open",
                    )

            await self._record(claim, record)

    async def _cancel_not_found(self, claim: Claim, adapter: TradingAdapter) -> None:
        order = claim.order
        try:
            venue = await adapter.fetch_order(order.symbol, client_order_id=order.client_order_id)
        except OrderNotFound:
            # the venue knows it by neither id: the reconciler counts it towards LOST
            await self._record(claim, lambda tx, o: self._not_sent(tx, claim, o))
            return
        except Exception:
            await self._record(claim, lambda tx, o: self._not_sent(tx, claim, o))
            return

        async def record(tx: Tx, current: Order) -> None:
            await apply_venue(tx, current, venue, actor=f"venue:{current.exchange}")
            if await tx.outbox.get(tx.conn, claim.row.id) is not None:
                await tx.outbox.done(tx.conn, claim.row.id)

        await self._record(claim, record)

    async def _amend(self, claim: Claim, adapter: TradingAdapter) -> None:
        order = claim.order
        payload = dict(claim.row.payload)
        try:
            venue = await adapter.amend_order(
                order.symbol,
                client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id,
                quantity=Decimal(payload["quantity"]) if payload.get("quantity") else None,
                price=Decimal(payload["price"])
                if payload.get("price") and payload.get("price") != str(order.price)
                else None,
            )
        except NotSupported:
            SENT.labels("amend", "unsupported").inc()

            async def fall_back(tx: Tx, current: Order) -> None:
                # the venue cannot amend this natively after all: cancel-replace
                await tx.outbox.done(tx.conn, claim.row.id)
                await tx.enqueue(current, "cancel", {"replace": payload})

            await self._record(claim, fall_back)
        except OrderRejected as exc:
            SENT.labels("amend", "rejected").inc()
            reason = f"{exc.reason.value}: {exc}"
            await self._record(claim, lambda tx, o: self._refused(tx, claim, o, reason))
        except Exception as exc:
            SENT.labels("amend", "retry").inc()
            log.warning(
                "amend failed, will retry", extra={"order_id": order.order_id, "error": repr(exc)}
            )
            await self._record(claim, lambda tx, o: self._not_sent(tx, claim, o))
        else:
            SENT.labels("amend", "ok").inc()

            async def record(tx: Tx, current: Order) -> None:
                await tx.outbox.done(tx.conn, claim.row.id)
                updated = await apply_venue(tx, current, venue, actor=f"venue:{current.exchange}")
                if updated.state is OrderState.PENDING_AMEND and venue.status.is_open:
                    tx.change(
                        updated,
                        Event.V_AMENDED,
                        actor=f"venue:{current.exchange}",
                        quantity=venue.quantity,
                        price=venue.price,
                        reason="",
                    )

            await self._record(claim, record)

    # -- resolving ----------------------------------------------------------------------------

    def doubt(self, rows: list[OutboxRow]) -> None:
        """Calls to resolve (restored with a partition)."""
        for row in rows:
            self._doubts[row.id] = row
        if rows:
            self._doubt_wakeup.set()

    def forget(self, partitions: set[int]) -> None:
        for row_id, row in list(self._doubts.items()):
            if row.partition in partitions:
                del self._doubts[row_id]

    async def resolve_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._doubt_wakeup.wait(), self.settings.resolve_interval_s)
            self._doubt_wakeup.clear()
            for row_id, row in list(self._doubts.items()):
                if not self.ownership.owns(row.partition):
                    self._doubts.pop(row_id, None)
                    continue
                try:
                    if await self.resolve(row):
                        self._doubts.pop(row_id, None)
                except Exception as exc:
                    log.warning(
                        "resolving failed, will retry", extra={"row": row_id, "error": repr(exc)}
                    )

    async def resolve(self, row: OutboxRow) -> bool:
        """Settle one in-doubt call; True when settled (or no longer ours)."""
        async with self.ledger.db.connection() as conn:
            current = await self.ledger.outbox.get(conn, row.id)
            order = await self.ledger.repo.get(conn, row.order_id)
            partner_id = None if current is None else current.payload.get("stop_order_id")
            partner = None if partner_id is None else await self.ledger.repo.get(conn, partner_id)
            now = await self.ledger.outbox.now(conn)
        if current is None or order is None:
            return True
        if current.action not in ("place", "place_oco"):
            # a cancel or amend whose answer was lost: sent again (both are idempotent)
            await self._requeue(current)
            return True
        if (
            order.state not in (OrderState.SUBMITTED, OrderState.PENDING_CANCEL)
            or order.venue_order_id is not None
        ):
            await self._settled(current)  # the stream or a poll answered meanwhile
            IN_DOUBT.labels("stream").inc()
            return True
        legs = [order] if partner is None else [order, partner]
        try:
            adapter = await self.venues.adapter(order.account_id, order.exchange)
            found = [await self._lookup(adapter, leg) for leg in legs]
        except Exception as exc:
            log.info(
                "in-doubt lookup failed, will retry",
                extra={"order_id": order.order_id, "error": repr(exc)},
            )
            return False
        if not any(found):
            claimed_at = current.claimed_at or now
            if now < claimed_at + timedelta(seconds=self.settings.in_doubt_horizon_s):
                return False  # a request of that claim could still arrive: ask again later
            await self._absent(current, [leg.order_id for leg in legs])
            IN_DOUBT.labels("absent").inc()
            return True

        async def record(tx: Tx) -> None:
            current_legs = [await tx.order(leg.order_id) for leg in legs]
            if await tx.outbox.get(tx.conn, row.id, lock=True) is not None:
                await tx.outbox.done(tx.conn, row.id)
            for leg, venue in zip(current_legs, found, strict=True):
                if leg is not None and venue is not None:
                    await apply_venue(tx, leg, venue, actor=f"venue:{leg.exchange}")

        await self.ledger.run(row.partition, record)
        IN_DOUBT.labels("found").inc()
        return True

    async def _lookup(self, adapter: TradingAdapter, order: Order) -> VenueOrder | None:
        """The venue's order by the client order id; None when the venue says it has none."""
        try:
            return await adapter.fetch_order(order.symbol, client_order_id=order.client_order_id)
        except OrderNotFound:
            return None

    async def _settled(self, row: OutboxRow) -> None:
        async def work(tx: Tx) -> None:
            await tx.order(row.order_id)
            if await tx.outbox.get(tx.conn, row.id, lock=True) is not None:
                await tx.outbox.done(tx.conn, row.id)

        await self.ledger.run(row.partition, work)

    async def _requeue(self, row: OutboxRow) -> None:
        async def work(tx: Tx) -> None:
            await tx.order(row.order_id)
            if await tx.outbox.get(tx.conn, row.id, lock=True) is not None:
                await tx.outbox.retry(tx.conn, row.id, 0)
                tx.queued += 1

        await self.ledger.run(row.partition, work)

    async def _absent(self, row: OutboxRow, order_ids: list[str]) -> None:
        """Proven never placed: send again (same client order ids), or, if a cancel came
        meanwhile, it is cancelled with nothing to cancel."""

        async def work(tx: Tx) -> None:
            legs = [await tx.order(order_id) for order_id in order_ids]
            if await tx.outbox.get(tx.conn, row.id, lock=True) is None:
                return
            resend = False
            for leg in legs:
                if leg is None:
                    continue
                if leg.state is OrderState.SUBMITTED:
                    reason = "proven never placed; sent again"
                    tx.change(leg, Event.V_NOT_FOUND, actor=ACTOR, reason=reason)
                    resend = True
                elif leg.state is OrderState.PENDING_CANCEL:
                    await tx.outbox.delete_for_order(tx.conn, leg.order_id)
                    tx.change(leg, Event.V_NOT_FOUND, actor=ACTOR, reason="proven never placed")
            if resend and await tx.outbox.get(tx.conn, row.id) is not None:
                await tx.outbox.retry(tx.conn, row.id, 0)
                tx.queued += 1
            elif await tx.outbox.get(tx.conn, row.id) is not None:
                await tx.outbox.done(tx.conn, row.id)

        await self.ledger.run(row.partition, work)
