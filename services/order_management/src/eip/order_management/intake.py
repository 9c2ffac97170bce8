"""Commands become orders: the owner of an account runs every command of it here, one at a time
per account, whichever way it came (``orders.commands.v1`` or HTTP).

For each command, in order:

1. the idempotency key: a key seen before is answered with the first result (the first order,
   whatever became of it) — or refused (``KeyReused``) if it now asks for something else;
2. pre-trade risk (``risk.engine``), outside any transaction: it may read prices, the order
   book's slippage and balances over the network;
3. one transaction, fenced by the account's partition lease: the command row, the order (PLACE,
   HOLD, ARM or DENY), and its outbox row or trigger. If the key was taken meanwhile (the same
   command on two paths at once), the primary key refuses the command row, the transaction
   rolls back and the winner's result is the answer.

Client order ids are derived from the account and the idempotency key (``client_order_ids``),
so whatever path or instance takes a command, the venue can only ever see one order for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb

from eip.exchanges.contract.client_order_ids import client_order_id
from eip.exchanges.contract.trading import ClientOrderIdRules, OrderType, Support, TimeInForce
from eip.order_management import triggers as trigger_rules
from eip.order_management.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    OrderSpec,
    PlaceList,
    PlaceOrder,
    SetAccountSwitch,
    request_hash,
)
from eip.order_management.ledger import Ledger, Tx
from eip.order_management.orders import ConfirmationState, Denial, ListRole, Order, new_order_id
from eip.order_management.ownership import Ownership
from eip.order_management.risk.codes import Denied
from eip.order_management.risk.engine import AnomalyHalt, RiskEngine
from eip.order_management.risk.killswitch import KillState, Level
from eip.order_management.state_machine import Event, OrderState
from eip.order_management.storage import CommandRow
from eip.order_management.storage.orders import KEY_TAKEN
from eip.order_management.storage.risk import RiskStore
from eip.order_management.storage.triggers import TriggerStore
from eip.order_management.venues import Venues

log = logging.getLogger(__name__)
DEFAULT_IDS = ClientOrderIdRules(max_length=32, alphabet="A-Za-z0-9")
GUARD = "risk:anomaly-guard"


class KeyReused(Exception):
    """The idempotency key was used before for a different request."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"this idempotency key was used before for another {kind} request")
        self.kind = kind


class OrderNotFound(Exception):
    """No such order for the account."""


class NotChangeable(Exception):
    """The order is in a state the command cannot act on."""

    def __init__(self, order: Order, message: str) -> None:
        super().__init__(message)
        self.order = order


class FourEyes(Exception):
    """Four-eyes: another subject than the requester must confirm."""


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str
    order: Order | None = None
    orders: list[Order] = field(default_factory=list)
    list_id: str | None = None
    duplicate: bool = False
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def denied(self) -> bool:
        return self.order is not None and self.order.state is OrderState.DENIED


class Intake:
    def __init__(
        self,
        ledger: Ledger,
        risk: RiskEngine,
        venues: Venues,
        ownership: Ownership,
        triggers: TriggerStore,
        risk_store: RiskStore,
        *,
        on_halt: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.ledger = ledger
        self.repo = ledger.repo
        self.db = ledger.db
        self.risk = risk
        self.venues = venues
        self.ownership = ownership
        self.triggers = triggers
        self.risk_store = risk_store
        self._locks: dict[str, asyncio.Lock] = {}
        self.on_halt = on_halt  # (account, reason): an account was halted by the guard

    def lock(self, account_id: str) -> asyncio.Lock:
        return self._locks.setdefault(account_id, asyncio.Lock())

    async def handle(self, command: Command) -> Outcome:
        """Run one command for an account this instance owns (``NotOwner`` otherwise)."""
        account = command.origin.account_id
        partition = self.ownership.partition_of(account)
        self.ownership.epoch(partition)  # NotOwner before any work
        async with self.lock(account):
            prior = await self.prior(command)
            if prior is not None:
                return prior
            try:
                if isinstance(command, PlaceOrder):
                    return await self._place(command, partition)
                if isinstance(command, PlaceList):
                    return await self._place_list(command, partition)
                if isinstance(command, CancelOrder):
                    return await self._cancel(command, partition)
                if isinstance(command, AmendOrder):
                    return await self._amend(command, partition)
                if isinstance(command, SetAccountSwitch):
                    return await self._account_switch(command, partition)
                return await self._cancel_all(command, partition)
            except UniqueViolation as exc:
                # the key was recorded by a concurrent command (the same command on two paths
                # at once): the database caught it, the transaction rolled back, and the
                # winner's result is the answer
                if exc.diag.constraint_name not in KEY_TAKEN:
                    raise
                prior = await self.prior(command)
                if prior is None:
                    raise
                return prior

    # -- idempotency --------------------------------------------------------------------------

    async def prior(self, command: Command) -> Outcome | None:
        async with self.db.connection() as conn:
            row = await self.repo.command(
                conn, command.origin.account_id, command.origin.idempotency_key
            )
            if row is None:
                return None
            if row.request_hash != request_hash(command):
                raise KeyReused(row.kind)
            return await self._outcome(conn, row)

    async def outcome_of(self, account_id: str, key: str) -> Outcome | None:
        async with self.db.connection() as conn:
            row = await self.repo.command(conn, account_id, key)
            return None if row is None else await self._outcome(conn, row)

    async def _outcome(self, conn: Any, row: CommandRow) -> Outcome:
        order = None if row.order_id is None else await self.repo.get(conn, row.order_id)
        orders: list[Order] = []
        if row.list_id is not None:
            orders = await self.repo.children(conn, list_id=row.list_id)
        ids = row.result.get("order_ids")
        if ids:
            orders = list((await self.repo.get_many(conn, ids)).values())
        return Outcome(
            row.kind, order, orders, row.list_id, duplicate=True, result=dict(row.result)
        )

    async def _record(
        self,
        tx: Tx,
        command: Command,
        *,
        order_id: str | None = None,
        list_id: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        await self.repo.record_command(
            tx.conn,
            CommandRow(
                command.origin.account_id,
                command.origin.idempotency_key,
                command.kind,
                request_hash(command),
                order_id,
                list_id,
                result or {},
                command.origin.requested_by,
                datetime.now(UTC),
            ),
        )
        await self.repo.notify_command(
            tx.conn, command.origin.account_id, command.origin.idempotency_key
        )

    # -- placing ------------------------------------------------------------------------------

    async def _ids(self, account_id: str, exchange: str) -> ClientOrderIdRules:
        try:
            return (await self.venues.capabilities(account_id, exchange)).client_order_ids
        except Exception:  # an exchange without an adapter: the order is denied, never sent
            return DEFAULT_IDS

    def _fields(
        self, command: Command, spec: OrderSpec, partition: int, key: str, ids: ClientOrderIdRules
    ) -> dict[str, Any]:
        origin = command.origin
        return {
            "order_id": new_order_id(),
            "account_id": origin.account_id,
            "exchange": spec.exchange,
            "symbol": spec.symbol,
            "side": spec.side,
            "type": spec.type,
            "idempotency_key": key,
            "client_order_id": client_order_id(origin.account_id, key, ids),
            "partition": partition,
            "requested_by": origin.requested_by,
            "time_in_force": spec.time_in_force,
            "quantity": spec.quantity,
            "quote_quantity": spec.quote_quantity,
            "price": spec.price,
            "stop_price": spec.stop_price,
            "trailing": spec.trailing,
            "post_only": spec.post_only,
            "expire_time": spec.expire_time,
        }

    async def _place(self, command: PlaceOrder, partition: int) -> Outcome:
        origin, spec = command.origin, command.spec
        ids = await self._ids(origin.account_id, spec.exchange)
        fields = self._fields(command, spec, partition, origin.idempotency_key, ids)
        try:
            verdict = await self.risk.check(origin, spec)
        except Denied as denied:
            return await self._deny(command, fields, denied)

        async def work(tx: Tx) -> Order:
            await self._record(tx, command, order_id=fields["order_id"])
            return await self._open(
                tx,
                fields,
                verdict.emulated,
                verdict.confirmation,
                verdict.four_eyes,
                verdict.confirm_ttl_s,
                actor=origin.requested_by,
            )

        order = await self.ledger.run(partition, work)
        self.risk.exposure.update(order, verdict.reference)
        return Outcome("place", order)

    async def _open(
        self,
        tx: Tx,
        fields: dict[str, Any],
        emulated: bool,
        confirmation: bool,
        four_eyes: bool,
        confirm_ttl_s: int,
        *,
        actor: str,
        awaits_entry: bool = False,
        queue: bool = True,
    ) -> Order:
        if confirmation:
            return tx.create(
                Event.HOLD,
                actor=actor,
                emulated=emulated,
                confirmation=ConfirmationState.AWAITING,
                confirm_by=datetime.now(UTC) + timedelta(seconds=confirm_ttl_s),
                four_eyes=four_eyes,
                **fields,
            )
        if emulated:
            order = tx.create(
                Event.ARM, actor=actor, emulated=True, awaits_entry=awaits_entry, **fields
            )
            await self.arm(tx, order)
            return order
        order = tx.create(Event.PLACE, actor=actor, **fields)
        if queue:
            await tx.enqueue(order, "place")
        return order

    async def arm(self, tx: Tx, order: Order) -> None:
        trigger = trigger_rules.trigger_for(order, waiting_for_entry=order.awaits_entry)
        await self.triggers.insert(tx.conn, trigger)

    async def _deny(self, command: Command, fields: dict[str, Any], denied: Denied) -> Outcome:
        origin = command.origin
        partition = fields["partition"]
        denial = Denial(denied.code.value, denied.message, denied.details)

        async def work(tx: Tx) -> Order:
            await self._record(tx, command, order_id=fields["order_id"])
            order = tx.create(
                Event.DENY,
                actor=origin.requested_by,
                denial=denial,
                reason=denied.message,
                **fields,
            )
            if isinstance(denied, AnomalyHalt):
                await self._halt(tx, origin.account_id, f"anomaly: {denied.anomaly.message}")
            return order

        order = await self.ledger.run(partition, work)
        if isinstance(denied, AnomalyHalt):
            log.error(
                "ALERT anomaly guard halted an account",
                extra={
                    "alert": "anomaly_halt",
                    "account_id": origin.account_id,
                    "kind": denied.anomaly.kind,
                    "detail": denied.anomaly.message,
                },
            )
            if self.on_halt is not None:
                await self.on_halt(origin.account_id, denied.anomaly.message)
        return Outcome(command.kind, order)

    async def _halt(
        self,
        tx: Tx,
        account_id: str,
        reason: str,
        state: KillState = KillState.HALTED,
        actor: str = GUARD,
    ) -> None:
        switch = await self.risk_store.put_switch(
            tx.conn, Level.ACCOUNT, account_id, state, reason, actor
        )
        await self.risk_store.notify_changed(tx.conn)
        self.ledger.audit_queued.set()
        await self.repo.audit.append(
            tx.conn,
            actor=actor,
            action="risk.kill_switch",
            subject=f"account:{account_id}",
            outcome=state.value,
            details={
                "level": "account",
                "scope_id": account_id,
                "state": state.value,
                "reason": reason[:200],
            },
        )
        # seen by this instance's next check at once; other instances refresh on the NOTIFY
        self.risk.state.set_switch(Level.ACCOUNT, account_id, switch)

    async def _native_oco(self, command: PlaceList) -> bool:
        """Whether the venue runs this list's OCO itself (its capability, and the instrument's
        rules say so, and the caller did not ask the platform to)."""
        if command.emulate:
            return False
        account = command.origin.account_id
        try:
            capabilities = await self.venues.capabilities(account, command.exchange)
            rules = (await self.venues.rules(account, command.exchange)).get(command.symbol)
        except Exception:
            return False
        return (
            capabilities.oco is Support.NATIVE
            and rules is not None
            and bool(getattr(rules, "oco", False))
        )

    async def _place_list(self, command: PlaceList, partition: int) -> Outcome:
        origin = command.origin
        key = origin.idempotency_key
        list_id = new_order_id()
        ids = await self._ids(origin.account_id, command.exchange)
        exit_side = command.side
        if command.list_type == "bracket":
            assert command.entry is not None
            exit_side = "sell" if command.entry.side == "buy" else "buy"
        quantity = command.quantity if command.entry is None else command.entry.quantity
        limit_spec = OrderSpec(
            command.exchange,
            command.symbol,
            exit_side,
            OrderType.LIMIT,
            quantity=quantity,
            price=command.price,
        )
        stop_type = (
            OrderType.STOP_MARKET if command.stop_limit_price is None else OrderType.STOP_LIMIT
        )
        native = await self._native_oco(command)
        stop_spec = OrderSpec(
            command.exchange,
            command.symbol,
            exit_side,
            stop_type,
            quantity=quantity,
            price=command.stop_limit_price,
            stop_price=command.stop_price,
            emulate=not native,
        )
        first = command.entry or limit_spec
        try:
            verdict = await self.risk.check(origin, first)
            if command.entry is not None:
                await self.risk.check(origin, limit_spec, exit_leg=True)
            await self.risk.check(origin, stop_spec, exit_leg=True)
        except Denied as denied:
            role = "entry" if command.entry else "limit_leg"
            fields = self._fields(command, first, partition, f"{key}#{role}", ids)
            return await self._deny(command, fields, denied)

        async def work(tx: Tx) -> list[Order]:
            await self._record(tx, command, list_id=list_id)
            await tx.conn.execute(
                f"INSERT INTO {self.db.t.order_lists} (list_id, account_id, exchange, symbol,"
                " partition, kind, idempotency_key, data)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    list_id,
                    origin.account_id,
                    command.exchange,
                    command.symbol,
                    partition,
                    command.list_type,
                    key,
                    Jsonb({"native": native}),
                ),
            )
            orders = []
            parent = None
            if command.entry is not None:
                fields = self._fields(command, command.entry, partition, f"{key}#entry", ids)
                entry = await self._open(
                    tx,
                    {**fields, "list_id": list_id, "list_role": ListRole.ENTRY},
                    False,
                    verdict.confirmation,
                    verdict.four_eyes,
                    verdict.confirm_ttl_s,
                    actor=origin.requested_by,
                )
                orders.append(entry)
                parent = entry.order_id
            legs = {}
            for role, spec in ((ListRole.LIMIT_LEG, limit_spec), (ListRole.STOP_LEG, stop_spec)):
                fields = self._fields(command, spec, partition, f"{key}#{role.value}", ids)
                fields.update(list_id=list_id, list_role=role, parent_id=parent, list_native=native)
                if native and role is ListRole.LIMIT_LEG:
                    fields["list_client_id"] = client_order_id(
                        origin.account_id, f"{key}#list", ids
                    )
                if parent is not None:  # a bracket exit: held until its entry is done
                    leg = tx.create(
                        Event.ARM,
                        actor=origin.requested_by,
                        emulated=not native or role is ListRole.STOP_LEG,
                        awaits_entry=True,
                        **fields,
                    )
                    await self.arm(tx, leg)
                elif native:  # both legs go in one call, queued on the limit leg
                    leg = await self._open(
                        tx,
                        fields,
                        False,
                        verdict.confirmation,
                        verdict.four_eyes,
                        verdict.confirm_ttl_s,
                        actor=origin.requested_by,
                        queue=False,
                    )
                else:
                    leg = await self._open(
                        tx,
                        fields,
                        emulated=role is ListRole.STOP_LEG,
                        confirmation=verdict.confirmation,
                        four_eyes=verdict.four_eyes,
                        confirm_ttl_s=verdict.confirm_ttl_s,
                        actor=origin.requested_by,
                    )
                legs[role] = leg
                orders.append(leg)
            if (
                native
                and parent is None
                and legs[ListRole.LIMIT_LEG].state is OrderState.PENDING_NEW
            ):
                await tx.enqueue(
                    legs[ListRole.LIMIT_LEG],
                    "place_oco",
                    {"stop_order_id": legs[ListRole.STOP_LEG].order_id},
                )
            return orders

        orders = await self.ledger.run(partition, work)
        for order in orders:
            self.risk.exposure.update(order, verdict.reference)
        return Outcome("place_list", orders[0], orders, list_id)

    # -- confirming ---------------------------------------------------------------------------

    async def confirm(self, order_id: str, account_ids: frozenset[str], subject: str) -> Order:
        """Confirm a held order (``orders:confirm``): ``FourEyes`` when four-eyes asks for
        another subject, ``NotChangeable`` when it is not held (or its time ran out)."""
        async with self.db.connection() as conn:
            order = await self.repo.get(conn, order_id)
        if order is None or order.account_id not in account_ids:
            raise OrderNotFound(order_id)
        partition = self.ownership.partition_of(order.account_id)
        self.ownership.epoch(partition)
        async with self.lock(order.account_id):

            async def work(tx: Tx) -> Order:
                current = await tx.order(order_id)
                assert current is not None
                if current.state is not OrderState.AWAITING_CONFIRMATION:
                    if (
                        current.confirmation is ConfirmationState.CONFIRMED
                        and current.confirmed_by == subject
                    ):
                        return current  # confirmed already (a retried call)
                    raise NotChangeable(
                        current, f"the order is {current.state.value}, not awaiting confirmation"
                    )
                if current.four_eyes and subject == current.requested_by:
                    raise FourEyes(
                        "four-eyes: another subject than its requester must confirm the order"
                    )
                if current.confirm_by is not None and current.confirm_by <= datetime.now(UTC):
                    raise NotChangeable(current, "the confirmation time ran out")
                switch = self.risk.state.switch_for(current.exchange, current.account_id)
                if switch is not None and switch.state is KillState.HALTED:
                    raise NotChangeable(current, "trading is halted: the order cannot be confirmed")
                legs = [current]
                if current.list_id is not None:  # an order list is confirmed as a whole
                    for leg in await tx.repo.children(tx.conn, list_id=current.list_id):
                        held = await tx.order(leg.order_id)
                        if (
                            held is not None
                            and held.order_id != current.order_id
                            and held.state is OrderState.AWAITING_CONFIRMATION
                        ):
                            legs.append(held)
                confirmed = []
                for leg in legs:
                    event = Event.ARM if leg.emulated else Event.CONFIRM
                    updated = tx.change(
                        leg,
                        event,
                        actor=subject,
                        confirmation=ConfirmationState.CONFIRMED,
                        confirmed_by=subject,
                    )
                    if updated.emulated:
                        await self.arm(tx, updated)
                    confirmed.append(updated)
                queued = [o for o in confirmed if o.state is OrderState.PENDING_NEW]
                limit = next(
                    (o for o in queued if o.list_native and o.list_role is ListRole.LIMIT_LEG), None
                )
                stop = next(
                    (o for o in queued if o.list_native and o.list_role is ListRole.STOP_LEG), None
                )
                if limit is not None and stop is not None:
                    await tx.enqueue(limit, "place_oco", {"stop_order_id": stop.order_id})
                else:
                    for o in queued:
                        await tx.enqueue(o, "place")
                return confirmed[0]

            order = await self.ledger.run(partition, work)
        self.risk.exposure.update(order)
        return order

    async def expire_confirmations(self, partitions: list[int]) -> int:
        """Held orders whose time ran out, and emulated GTD orders past their expiry: EXPIRED."""
        now = datetime.now(UTC)
        async with self.db.connection() as conn:
            candidates = [
                o
                for o in await self.repo.open_orders(conn, partitions=partitions)
                if (
                    o.state is OrderState.AWAITING_CONFIRMATION
                    and o.confirm_by is not None
                    and o.confirm_by <= now
                )
                or (
                    o.state is OrderState.EMULATED
                    and o.time_in_force is TimeInForce.GTD
                    and o.expire_time is not None
                    and o.expire_time <= now
                )
            ]
        expired = 0
        for candidate in candidates:
            async with self.lock(candidate.account_id):

                async def work(tx: Tx, order_id: str = candidate.order_id) -> Order | None:
                    order = await tx.order(order_id)
                    if order is None or order.state not in (
                        OrderState.AWAITING_CONFIRMATION,
                        OrderState.EMULATED,
                    ):
                        return None
                    confirmation = order.confirmation
                    reason = "GTD expiry"
                    if order.state is OrderState.AWAITING_CONFIRMATION:
                        confirmation, reason = ConfirmationState.EXPIRED, "not confirmed in time"
                    await self.triggers.delete(tx.conn, order.order_id)
                    return tx.change(
                        order,
                        Event.EXPIRE,
                        actor="order-management",
                        confirmation=confirmation,
                        reason=reason,
                    )

                try:
                    if await self.ledger.run(candidate.partition, work) is not None:
                        expired += 1
                except Exception as exc:
                    log.warning(
                        "expiry failed", extra={"order_id": candidate.order_id, "error": repr(exc)}
                    )
        return expired

    # -- cancelling ---------------------------------------------------------------------------

    async def _target(self, account_id: str, order_id: str) -> Order:
        async with self.db.connection() as conn:
            order = await self.repo.get(conn, order_id)
        if order is None or order.account_id != account_id:
            raise OrderNotFound(order_id)
        return order

    async def _cancel(self, command: CancelOrder, partition: int) -> Outcome:
        await self._target(command.origin.account_id, command.order_id)

        async def work(tx: Tx) -> Order:
            await self._record(tx, command, order_id=command.order_id)
            order = await tx.order(command.order_id)
            assert order is not None
            order = await self.cancel_in(
                tx, order, command.origin.requested_by, "canceled by request"
            )
            if order.list_id is not None:
                for leg in await tx.repo.children(tx.conn, list_id=order.list_id):
                    if leg.order_id != order.order_id:
                        current = await tx.order(leg.order_id)
                        assert current is not None
                        await self.cancel_in(
                            tx, current, command.origin.requested_by, "the list was canceled"
                        )
            return order

        order = await self.ledger.run(partition, work)
        return Outcome("cancel", order)

    async def cancel_in(self, tx: Tx, order: Order, actor: str, reason: str) -> Order:
        """Cancel ``order`` inside ``tx``: locally when nothing of it can be at a venue, else
        through the venue; an order closed or already being cancelled is left as it is."""
        order = tx.latest(order.order_id) or order
        if not order.is_open or order.state is OrderState.PENDING_CANCEL:
            return order
        local = order.state in (
            OrderState.PENDING_NEW,
            OrderState.AWAITING_CONFIRMATION,
            OrderState.EMULATED,
        ) or (order.state is OrderState.TRIGGERED and order.emulated and not order.sent)
        if local:
            await tx.outbox.delete_for_order(tx.conn, order.order_id)
            await self.triggers.delete(tx.conn, order.order_id)
            return tx.change(order, Event.CANCEL_LOCAL, actor=actor, reason=reason)
        # a pending amend gives way: its queued call is dropped unless already on its way
        for row in await tx.outbox.for_order(tx.conn, order.order_id):
            if row.action == "amend" and row.state == "ready":
                await tx.outbox.done(tx.conn, row.id)
            if row.action == "cancel" and row.state == "ready" and row.payload.get("replace"):
                await tx.outbox.done(tx.conn, row.id)
        order = tx.change(order, Event.CANCEL_REQUESTED, actor=actor, reason=reason)
        await tx.enqueue(order, "cancel")
        return order

    async def _cancel_all(self, command: CancelAll, partition: int) -> Outcome:
        origin = command.origin
        async with self.db.connection() as conn:
            targets = await self.repo.open_orders(
                conn, account_id=origin.account_id, exchange=command.exchange, symbol=command.symbol
            )
        ids = [o.order_id for o in targets]
        reason = command.reason or "cancel-all by request"

        async def work(tx: Tx) -> list[Order]:
            await self._record(tx, command, result={"order_ids": ids})
            out = []
            for order_id in ids:
                order = await tx.order(order_id)
                if order is not None:
                    out.append(await self.cancel_in(tx, order, origin.requested_by, reason))
            return out

        orders = await self.ledger.run(partition, work)
        return Outcome("cancel_all", None, orders, result={"order_ids": ids})

    async def _account_switch(self, command: SetAccountSwitch, partition: int) -> Outcome:
        """Tighten the account's own switch, never loosen it: a command from the bus (a rule
        acting for the account) may stop trading, only an administrator may restart it. An
        account already as tight or tighter is left as it is (the command is recorded, the
        answer says so). With ``cancel_open`` (HALTED) its open orders are cancelled in the
        same transaction, as a cancel-all would."""
        origin = command.origin
        wanted = KillState(command.state)
        reason = command.reason or f"{wanted.value} by {origin.requested_by}"

        async def work(tx: Tx) -> tuple[list[Order], KillState]:
            held = (await self.risk_store.switches(tx.conn)).get((Level.ACCOUNT, origin.account_id))
            tighter = held is not None and held.state.rank >= wanted.rank
            state = held.state if held is not None and tighter else wanted
            targets = []
            if command.cancel_open:
                targets = await self.repo.open_orders(tx.conn, account_id=origin.account_id)
            await self._record(
                tx,
                command,
                result={
                    "state": state.value,
                    "changed": not tighter,
                    "order_ids": [o.order_id for o in targets],
                },
            )
            if not tighter:
                await self._halt(tx, origin.account_id, reason, wanted, origin.requested_by)
            out = []
            for target in targets:
                order = await tx.order(target.order_id)
                if order is not None:
                    out.append(await self.cancel_in(tx, order, origin.requested_by, reason))
            return out, state

        orders, state = await self.ledger.run(partition, work)
        return Outcome(command.kind, None, orders, result={"state": state.value})

    # -- amending -----------------------------------------------------------------------------

    async def _amend(self, command: AmendOrder, partition: int) -> Outcome:
        origin = command.origin
        order = await self._target(origin.account_id, command.order_id)
        if order.state not in (
            OrderState.ACCEPTED,
            OrderState.PARTIALLY_FILLED,
            OrderState.TRIGGERED,
            OrderState.EMULATED,
        ) or (order.state is OrderState.TRIGGERED and order.emulated and not order.sent):
            raise NotChangeable(order, f"an order in {order.state.value} cannot be amended")
        if order.list_id is not None and order.state is not OrderState.EMULATED:
            raise NotChangeable(order, "a leg of an order list is cancelled, not amended")
        quantity = command.quantity or order.quantity
        if order.quantity is None or quantity is None:
            raise NotChangeable(order, "an order sized in the quote asset cannot be amended")
        if quantity <= order.filled_quantity:
            raise NotChangeable(
                order, f"the new quantity must be above the filled {order.filled_quantity}"
            )
        new_spec = OrderSpec(
            order.exchange,
            order.symbol,
            order.side,
            order.type,
            quantity=quantity,
            price=command.price or order.price,
            stop_price=command.stop_price or order.stop_price,
            trailing=order.trailing,
            time_in_force=order.time_in_force,
            expire_time=order.expire_time,
            post_only=order.post_only,
            emulate=order.emulated,
        )
        if command.price is not None and not order.type.has_limit_price:
            raise NotChangeable(order, f"a {order.type.value} order has no price to amend")
        if command.stop_price is not None and not order.emulated:
            raise NotChangeable(order, "only an emulated order's trigger can be amended")
        try:
            await self.risk.check_amend(origin.account_id, new_spec)
        except Denied as denied:
            raise AmendDenied(order, denied) from None
        if order.state is OrderState.EMULATED:
            return await self._amend_local(command, partition, new_spec)
        capabilities = await self.venues.capabilities(origin.account_id, order.exchange)
        native = (
            capabilities.amend.native(
                quantity_down=quantity < order.quantity,
                quantity_up=quantity > order.quantity,
                price=command.price is not None and command.price != order.price,
            )
            if hasattr(capabilities.amend, "native")
            else False
        )
        ids = await self._ids(origin.account_id, order.exchange)

        async def work(tx: Tx) -> Order:
            await self._record(tx, command, order_id=command.order_id)
            current = await tx.order(command.order_id)
            assert current is not None
            if current.state not in (
                OrderState.ACCEPTED,
                OrderState.PARTIALLY_FILLED,
                OrderState.TRIGGERED,
            ):
                raise NotChangeable(current, f"an order in {current.state.value} cannot be amended")
            changed = tx.change(
                current, Event.AMEND_REQUESTED, actor=origin.requested_by, reason="amend requested"
            )
            # the amended terms, with what a cancel-replace needs should the venue not amend
            target = {
                "quantity": str(quantity),
                "price": None if new_spec.price is None else str(new_spec.price),
                "key": origin.idempotency_key,
                "client_order_id": client_order_id(
                    origin.account_id, f"{origin.idempotency_key}#replace", ids
                ),
                "requested_by": origin.requested_by,
            }
            if native:
                await tx.enqueue(changed, "amend", target)
            else:  # the replacement is created when the cancel is confirmed (observe.py)
                await tx.enqueue(changed, "cancel", {"replace": target})
            return changed

        order = await self.ledger.run(partition, work)
        return Outcome("amend", order)

    async def _amend_local(self, command: AmendOrder, partition: int, spec: OrderSpec) -> Outcome:
        async def work(tx: Tx) -> Order:
            await self._record(tx, command, order_id=command.order_id)
            current = await tx.order(command.order_id)
            assert current is not None
            if current.state is not OrderState.EMULATED:
                raise NotChangeable(current, f"an order in {current.state.value} cannot be amended")
            changed = tx.change(
                current,
                Event.AMEND_LOCAL,
                actor=command.origin.requested_by,
                quantity=spec.quantity,
                price=spec.price,
                stop_price=spec.stop_price,
            )
            trigger = await self.triggers.get(tx.conn, current.order_id, lock=True)
            if trigger is not None:
                fresh = trigger_rules.trigger_for(
                    changed, waiting_for_entry=trigger.kind == "entry"
                )
                if trigger.kind == "trailing":
                    fresh = fresh.with_(
                        active=trigger.active or fresh.active, watermark=trigger.watermark
                    )
                await self.triggers.update(tx.conn, fresh)
            return changed

        order = await self.ledger.run(partition, work)
        self.risk.exposure.update(order)
        return Outcome("amend", order)


class AmendDenied(Exception):
    def __init__(self, order: Order, denied: Denied) -> None:
        super().__init__(denied.message)
        self.order = order
        self.denied = denied


def replacement_fields(old: Order, payload: dict[str, Any], partition: int) -> dict[str, Any]:
    """The order a cancel-replace creates once the cancel is confirmed: the old one's terms with
    the amended ones, sized to the new total less what the old one filled."""
    quantity = Decimal(payload["quantity"]) - old.filled_quantity
    price = payload.get("price")
    return {
        "order_id": new_order_id(),
        "account_id": old.account_id,
        "exchange": old.exchange,
        "symbol": old.symbol,
        "side": old.side,
        "type": OrderType.LIMIT if old.emulated else old.type,
        "idempotency_key": f"{payload['key']}#replace",
        "client_order_id": payload["client_order_id"],
        "partition": partition,
        "requested_by": payload.get("requested_by", old.requested_by),
        "time_in_force": old.time_in_force,
        "quantity": quantity,
        "price": None if price is None else Decimal(price),
        "stop_price": None if old.emulated else old.stop_price,
        "post_only": old.post_only,
        "expire_time": old.expire_time,
        "replaces": old.order_id,
    }


__all__ = [
    "AmendDenied",
    "Intake",
    "KeyReused",
    "NotChangeable",
    "OrderNotFound",
    "Outcome",
    "replacement_fields",
]
