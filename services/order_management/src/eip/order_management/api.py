"""The HTTP API, ``/v1``: orders and order lists (``orders:write`` to change, ``orders:read`` to
read, for the accounts in the token), confirmation of large trades (``orders:confirm``), and risk
limits and kill switches (``risk:admin``, audited).

Answers: 201 a new order (its state says whether it waits for confirmation or a trigger); 200
the same idempotency key again (the first order, whatever became of it); 202 a cancel or amend
under way, or a command queued for the instance that owns the account (look it up by its
idempotency key); 422 ``invalid_order`` (shape), ``order_denied`` (pre-trade risk, with the
denial code; the denied order is kept and answers the same key again); 409
``idempotency_key_reused``, ``order_not_changeable``; 403 ``four_eyes``; 404; 503.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from eip.observability.http import ApiError, error_responses
from eip.observability.inputs import Text
from eip.order_management.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    InvalidCommand,
    Origin,
    PlaceList,
    PlaceOrder,
    check,
)
from eip.order_management.intake import (
    AmendDenied,
    FourEyes,
    KeyReused,
    NotChangeable,
    OrderNotFound,
    Outcome,
)
from eip.order_management.orders import Order
from eip.order_management.ownership import NotOwner
from eip.order_management.risk.killswitch import KillState, Level
from eip.order_management.risk.limits import Limits, Scope, describe
from eip.order_management.routing import Queued
from eip.order_management.runtime import OrderManagementRuntime
from eip.order_management.schemas import (
    AmendBody,
    CancelAllAnswer,
    CancelAllBody,
    CancelBody,
    EventsAnswer,
    EventView,
    FillsAnswer,
    FillView,
    KillSwitchBody,
    LimitsBody,
    ListAnswer,
    OrderAnswer,
    OrdersAnswer,
    OrderView,
    PlaceListBody,
    PlaceOrderBody,
    QueuedAnswer,
)
from eip.order_management.state_machine import OrderState
from eip.storage import DatabaseUnavailable
from eip.tokens import Claims, require_scope

Writer = Annotated[Claims, Depends(require_scope("orders:write"))]
Reader = Annotated[Claims, Depends(require_scope("orders:read"))]
Confirmer = Annotated[Claims, Depends(require_scope("orders:confirm"))]
Admin = Annotated[Claims, Depends(require_scope("risk:admin"))]
OrderId = Annotated[
    Text,
    Path(
        min_length=36,
        max_length=36,
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="a UUID, as the API returns it",
    ),
]
ORDER_ERRORS = error_responses(404, 409)
QUEUED: dict[int | str, dict[str, Any]] = {
    202: {"model": QueuedAnswer, "description": "Queued for the account's owner"}
}


def _runtime(request: Request) -> OrderManagementRuntime:
    runtime: OrderManagementRuntime = request.app.state.runtime
    if not runtime.ready.is_set():
        raise ApiError(503, "not_ready", "order management is starting: its database is not ready")
    return runtime


Runtime = Annotated[OrderManagementRuntime, Depends(_runtime)]


def _covers(claims: Claims, account_id: str) -> None:
    if not claims.may_use_account(account_id):
        raise ApiError(
            403, "forbidden", "the token does not cover this account", {"account_id": account_id}
        )


def _origin(claims: Claims, account_id: str, key: str) -> Origin:
    return Origin(account_id, key, claims.subject, f"http:{claims.subject}")


def _view(order: Order) -> dict[str, Any]:
    return OrderView.of(order).model_dump(mode="json")


async def _submit(rt: OrderManagementRuntime, command: Command) -> Outcome:
    try:
        check(command)
        return await rt.router.submit(command)
    except InvalidCommand as exc:
        raise ApiError(
            422, "invalid_order", exc.message, [{"field": exc.field, "problem": exc.message}]
        ) from None
    except KeyReused as exc:
        raise ApiError(409, "idempotency_key_reused", str(exc)) from None
    except OrderNotFound:
        raise ApiError(404, "not_found", "no such order for this account") from None
    except NotChangeable as exc:
        raise ApiError(
            409, "order_not_changeable", str(exc), {"state": exc.order.state.value}
        ) from None
    except AmendDenied as exc:
        raise ApiError(
            422,
            "order_denied",
            exc.denied.message,
            {
                "order_id": exc.order.order_id,
                "denial": {"code": exc.denied.code.value, "details": exc.denied.details},
            },
        ) from None
    except (DatabaseUnavailable, ConnectionError) as exc:
        raise ApiError(
            503,
            "unavailable",
            "order management cannot take commands now; nothing was done",
            {"reason": str(exc)[:200]},
        ) from None
    except NotOwner:
        raise ApiError(503, "owner_changing", "the account's owner is changing; retry") from None


def _queued_answer(exc: Queued) -> JSONResponse:
    return JSONResponse(
        QueuedAnswer(
            account_id=exc.account_id,
            idempotency_key=exc.key,
            message="queued for the instance that owns the account; GET /v1/orders?account_id=..."
            "&idempotency_key=... finds the order",
        ).model_dump(),
        202,
    )


def _denied(order: Order, duplicate: bool) -> ApiError:
    assert order.denial is not None
    return ApiError(
        422,
        "order_denied",
        order.denial.message,
        {
            "order_id": order.order_id,
            "duplicate": duplicate,
            "denial": {"code": order.denial.code, "details": dict(order.denial.details)},
        },
    )


async def _await_ack(rt: OrderManagementRuntime, order: Order) -> Order:
    """The order once the venue answered its placement (or the wait ran out)."""
    waiting = {OrderState.PENDING_NEW, OrderState.SUBMITTED}
    if order.state not in waiting:
        return order
    done: asyncio.Future[Order] = asyncio.get_running_loop().create_future()

    def seen(updated: Order) -> None:
        if updated.state not in waiting and not done.done():
            done.set_result(updated)

    stop = rt.ledger.watch(order.order_id, seen)
    try:
        async with rt.db.connection() as conn:  # it may have moved before the watch began
            current = await rt.repo.get(conn, order.order_id)
        if current is not None and current.state not in waiting:
            return current
        return await asyncio.wait_for(done, rt.settings.ack_wait_s)
    except TimeoutError:
        return current or order
    finally:
        stop()


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.post(
        "/orders",
        status_code=201,
        tags=["orders"],
        response_model=OrderAnswer,
        responses={
            **error_responses(409),
            **QUEUED,
            200: {"model": OrderAnswer, "description": "The idempotency key was seen before"},
        },
    )
    async def place_order(
        body: PlaceOrderBody,
        claims: Writer,
        rt: Runtime,
        wait: Annotated[
            Literal["none", "ack"], Query(description="ack: answer once the venue did")
        ] = "none",
    ) -> Any:
        """Place an order. The same idempotency key again answers the first order."""
        _covers(claims, body.account_id)
        command = PlaceOrder(_origin(claims, body.account_id, body.idempotency_key), body.spec())
        try:
            outcome = await _submit(rt, command)
        except Queued as exc:
            return _queued_answer(exc)
        assert outcome.order is not None
        if outcome.denied:
            raise _denied(outcome.order, outcome.duplicate)
        order = outcome.order
        if wait == "ack":
            order = await _await_ack(rt, order)
        return JSONResponse(
            {"order": _view(order), "duplicate": outcome.duplicate},
            200 if outcome.duplicate else 201,
        )

    @router.get("/orders", tags=["orders"], response_model=OrdersAnswer)
    async def list_orders(
        claims: Reader,
        rt: Runtime,
        account_id: Annotated[Text, Query(min_length=1, max_length=64)],
        exchange: Annotated[Text | None, Query(max_length=64)] = None,
        symbol: Annotated[Text | None, Query(max_length=40)] = None,
        state: Annotated[list[OrderState] | None, Query()] = None,
        open: Annotated[bool, Query(description="only orders still open")] = False,
        idempotency_key: Annotated[Text | None, Query(max_length=128)] = None,
        before: Annotated[
            Text | None, Query(max_length=120, description="a page's next_before")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> OrdersAnswer:
        """The account's orders, newest first."""
        _covers(claims, account_id)
        cursor = None
        if before is not None:
            when, _, order_id = before.partition("|")
            try:
                at = datetime.fromisoformat(when)
                if at.tzinfo is None:
                    raise ValueError("no offset")
                cursor = (at, str(uuid.UUID(order_id)))
            except ValueError:
                raise ApiError(422, "invalid_request", "before is not a page cursor") from None
        async with rt.db.connection() as conn:
            orders = await rt.repo.search(
                conn,
                account_ids=[account_id],
                exchange=exchange,
                symbol=symbol,
                states=state,
                open_only=open,
                idempotency_key=idempotency_key,
                before=cursor,
                limit=limit,
            )
        next_before = None
        if len(orders) == limit:
            last = orders[-1]
            next_before = f"{last.created_at.isoformat()}|{last.order_id}"
        return OrdersAnswer(orders=[OrderView.of(o) for o in orders], next_before=next_before)

    async def _readable(rt: OrderManagementRuntime, claims: Claims, order_id: str) -> Order:
        async with rt.db.connection() as conn:
            order = await rt.repo.get(conn, order_id)
        if order is None or not claims.may_use_account(order.account_id):
            raise ApiError(404, "not_found", "no such order for this token's accounts")
        return order

    @router.get(
        "/orders/{order_id}",
        tags=["orders"],
        response_model=OrderAnswer,
        responses=error_responses(404),
    )
    async def get_order(order_id: OrderId, claims: Reader, rt: Runtime) -> OrderAnswer:
        return OrderAnswer(
            order=OrderView.of(await _readable(rt, claims, order_id)), duplicate=False
        )

    @router.get(
        "/orders/{order_id}/events",
        tags=["orders"],
        response_model=EventsAnswer,
        responses=error_responses(404),
    )
    async def order_events(order_id: OrderId, claims: Reader, rt: Runtime) -> EventsAnswer:
        """Every change of the order, oldest first: the event log its state is the projection of."""
        await _readable(rt, claims, order_id)
        async with rt.db.connection() as conn:
            events = await rt.repo.events(conn, order_id)
        return EventsAnswer(
            order_id=order_id,
            events=[
                EventView(
                    version=e.version,
                    event=e.event.value,
                    state=e.state.value,
                    actor=e.actor,
                    time=e.time,
                    changes=dict(e.changes),
                )
                for e in events
            ],
        )

    @router.get(
        "/orders/{order_id}/fills",
        tags=["orders"],
        response_model=FillsAnswer,
        responses=error_responses(404),
    )
    async def order_fills(order_id: OrderId, claims: Reader, rt: Runtime) -> FillsAnswer:
        await _readable(rt, claims, order_id)
        async with rt.db.connection() as conn:
            fills = await rt.repo.fills(conn, order_id)
        return FillsAnswer(
            order_id=order_id,
            fills=[
                FillView(
                    trade_id=f["trade_id"],
                    venue_order_id=f["venue_order_id"],
                    price=str(f["price"]),
                    quantity=str(f["quantity"]),
                    fee=str(f["fee"]),
                    fee_asset=f["fee_asset"],
                    liquidity=f["liquidity"],
                    time=f["time"],
                )
                for f in fills
            ],
        )

    async def _writable(rt: OrderManagementRuntime, claims: Claims, order_id: str) -> Order:
        async with rt.db.connection() as conn:
            order = await rt.repo.get(conn, order_id)
        if order is None or not claims.may_use_account(order.account_id):
            raise ApiError(404, "not_found", "no such order for this token's accounts")
        return order

    @router.post(
        "/orders/{order_id}/cancel",
        status_code=202,
        tags=["orders"],
        response_model=OrderAnswer,
        responses={**ORDER_ERRORS, **QUEUED},
    )
    async def cancel_order(
        order_id: OrderId, claims: Writer, rt: Runtime, body: CancelBody | None = None
    ) -> Any:
        """Cancel one order (idempotent: an order already closed or being cancelled is answered
        as it is). Cancelling a leg of an order list cancels the list."""
        order = await _writable(rt, claims, order_id)
        key = (body.idempotency_key if body else None) or f"cancel:{order_id}"
        try:
            outcome = await _submit(
                rt, CancelOrder(_origin(claims, order.account_id, key), order_id)
            )
        except Queued as exc:
            return _queued_answer(exc)
        assert outcome.order is not None
        return OrderAnswer(order=OrderView.of(outcome.order), duplicate=outcome.duplicate)

    @router.patch(
        "/orders/{order_id}",
        status_code=202,
        tags=["orders"],
        response_model=OrderAnswer,
        responses={**ORDER_ERRORS, **QUEUED},
    )
    async def amend_order(order_id: OrderId, body: AmendBody, claims: Writer, rt: Runtime) -> Any:
        """Amend price and/or quantity (the new total): natively where the venue can, else a
        cancel-replace tracked as one operation (the replacement is sent once the cancel is
        confirmed, sized down by what filled meanwhile). An emulated order changes at once."""
        order = await _writable(rt, claims, order_id)
        command = AmendOrder(
            _origin(claims, order.account_id, body.idempotency_key),
            order_id,
            quantity=body.quantity,
            price=body.price,
            stop_price=body.stop_price,
        )
        try:
            outcome = await _submit(rt, command)
        except Queued as exc:
            return _queued_answer(exc)
        assert outcome.order is not None
        return OrderAnswer(order=OrderView.of(outcome.order), duplicate=outcome.duplicate)

    @router.post(
        "/orders/cancel-all",
        status_code=202,
        tags=["orders"],
        response_model=CancelAllAnswer,
        responses={**error_responses(409), **QUEUED},
    )
    async def cancel_all(body: CancelAllBody, claims: Writer, rt: Runtime) -> Any:
        """Cancel every open order of the account (of one exchange, of one symbol)."""
        _covers(claims, body.account_id)
        key = body.idempotency_key or f"cancel-all:{uuid.uuid4()}"
        command = CancelAll(_origin(claims, body.account_id, key), body.exchange, body.symbol)
        try:
            outcome = await _submit(rt, command)
        except Queued as exc:
            return _queued_answer(exc)
        return CancelAllAnswer(
            orders=[OrderView.of(o) for o in outcome.orders], duplicate=outcome.duplicate
        )

    @router.post(
        "/orders/{order_id}/confirm",
        tags=["orders"],
        response_model=OrderAnswer,
        responses=ORDER_ERRORS,
    )
    async def confirm_order(order_id: OrderId, claims: Confirmer, rt: Runtime) -> OrderAnswer:
        """Confirm a large trade held in AWAITING_CONFIRMATION: with four-eyes on, by another
        subject than its requester; before its time runs out (then it expires)."""
        try:
            order = await rt.intake.confirm(order_id, claims.accounts, claims.subject)
        except OrderNotFound:
            raise ApiError(404, "not_found", "no such order for this token's accounts") from None
        except FourEyes as exc:
            raise ApiError(403, "four_eyes", str(exc)) from None
        except NotChangeable as exc:
            raise ApiError(
                409, "order_not_changeable", str(exc), {"state": exc.order.state.value}
            ) from None
        except NotOwner:
            raise ApiError(
                503,
                "owner_elsewhere",
                "another instance owns this account now; retry there or later",
            ) from None
        except DatabaseUnavailable as exc:
            raise ApiError(503, "unavailable", str(exc)) from None
        return OrderAnswer(order=OrderView.of(order), duplicate=False)

    @router.post(
        "/order-lists",
        status_code=201,
        tags=["order lists"],
        response_model=ListAnswer,
        responses={**error_responses(409), **QUEUED},
    )
    async def place_list(body: PlaceListBody, claims: Writer, rt: Runtime) -> Any:
        """An OCO (a limit leg and a stop leg, the first to execute cancels the other) or a
        bracket (an entry, then a take-profit and a stop-loss for what it filled)."""
        _covers(claims, body.account_id)
        command = PlaceList(
            _origin(claims, body.account_id, body.idempotency_key),
            body.type,
            body.exchange,
            body.symbol,
            body.side,
            body.quantity,
            body.price,
            body.stop_price,
            body.stop_limit_price,
            None if body.entry is None else body.entry.spec(),
            body.emulate,
        )
        try:
            outcome = await _submit(rt, command)
        except Queued as exc:
            return _queued_answer(exc)
        if outcome.denied:
            assert outcome.order is not None
            raise _denied(outcome.order, outcome.duplicate)
        answer = ListAnswer(
            list_id=outcome.list_id or "",
            orders=[OrderView.of(o) for o in outcome.orders],
            duplicate=outcome.duplicate,
        )
        return JSONResponse(answer.model_dump(mode="json"), 200 if outcome.duplicate else 201)

    @router.get(
        "/order-lists/{list_id}",
        tags=["order lists"],
        response_model=ListAnswer,
        responses=error_responses(404),
    )
    async def get_list(list_id: OrderId, claims: Reader, rt: Runtime) -> ListAnswer:
        async with rt.db.connection() as conn:
            orders = await rt.repo.children(conn, list_id=list_id)
        if not orders or not claims.may_use_account(orders[0].account_id):
            raise ApiError(404, "not_found", "no such order list for this token's accounts")
        return ListAnswer(list_id=list_id, orders=[OrderView.of(o) for o in orders])

    # -- risk ---------------------------------------------------------------------------------

    @router.get("/risk/limits", tags=["risk"])
    async def get_limits(claims: Admin, rt: Runtime) -> dict[str, Any]:
        """Every scope's limits as set, and the service's defaults."""
        await rt.refresh_risk()
        return {
            "limits": [
                {
                    "scope": scope.value,
                    "scope_id": scope_id,
                    "limits": limits.model_dump(mode="json", exclude_none=True),
                }
                for (scope, scope_id), limits in sorted(rt.risk_state.layers.items())
            ],
            "defaults": describe(rt.risk_state.defaults),
        }

    @router.get("/risk/limits/effective", tags=["risk"])
    async def effective_limits(
        claims: Admin,
        rt: Runtime,
        exchange: Annotated[Text, Query(min_length=1, max_length=64)],
        account_id: Annotated[Text, Query(min_length=1, max_length=64)],
        symbol: Annotated[Text, Query(min_length=3, max_length=40)],
    ) -> dict[str, Any]:
        """The limits an order of this account on this instrument is held to."""
        return {"limits": describe(rt.risk_state.limits_for(exchange, account_id, symbol))}

    @router.put("/risk/limits", tags=["risk"])
    async def put_limits(body: LimitsBody, claims: Admin, rt: Runtime) -> dict[str, Any]:
        """Set one scope's limits (replacing what it set before; {} clears them). Audited."""
        if (body.scope == "platform") != (body.scope_id == ""):
            raise ApiError(
                422, "invalid_request", "the platform scope has scope_id '', every other one an id"
            )
        try:
            limits = Limits(**body.limits)
        except ValueError as exc:
            raise ApiError(
                422,
                "invalid_limits",
                "limits are invalid",
                [
                    {
                        "problem": str(e.get("msg", ""))[:200],
                        "field": ".".join(str(p) for p in e.get("loc", ())),
                    }
                    for e in getattr(exc, "errors", lambda: [])()
                ],
            ) from None
        data = limits.model_dump(mode="json", exclude_none=True)
        async with rt.db.transaction() as conn:
            if data:
                await rt.risk_store.put_limits(
                    conn, body.scope, body.scope_id, data, claims.subject
                )
            else:
                await rt.risk_store.delete_limits(conn, body.scope, body.scope_id)
            await rt.repo.audit.append(
                conn,
                actor=claims.subject,
                action="risk.limits",
                subject=f"{body.scope}:{body.scope_id}",
                details={k: str(v) for k, v in data.items()} or {"cleared": "true"},
            )
            await rt.risk_store.notify_changed(conn)
        rt.ledger.audit_queued.set()
        layers = dict(rt.risk_state.layers)
        if data:
            layers[(Scope(body.scope), body.scope_id)] = limits
        else:
            layers.pop((Scope(body.scope), body.scope_id), None)
        rt.risk_state.set_layers(layers)
        return {"scope": body.scope, "scope_id": body.scope_id, "limits": data}

    @router.get("/risk/kill-switches", tags=["risk"])
    async def get_switches(claims: Admin, rt: Runtime) -> dict[str, Any]:
        await rt.refresh_risk()
        return {"switches": [s.public() for _, s in sorted(rt.risk_state.switches.items())]}

    @router.put("/risk/kill-switches", tags=["risk"])
    async def put_switch(body: KillSwitchBody, claims: Admin, rt: Runtime) -> dict[str, Any]:
        """Set a kill switch: ACTIVE, REDUCING (only orders that reduce a position, and
        cancels) or HALTED (cancels only; with cancel_open, every open order in the scope is
        cancelled at once). Setting an account back to ACTIVE releases an anomaly halt. Audited."""
        if (body.level == "platform") != (body.scope_id == ""):
            raise ApiError(
                422, "invalid_request", "the platform level has scope_id '', every other one an id"
            )
        if body.cancel_open and body.state != "halted":
            raise ApiError(422, "invalid_request", "cancel_open goes with HALTED")
        level, state = Level(body.level), KillState(body.state)
        async with rt.db.transaction() as conn:
            switch = await rt.risk_store.put_switch(
                conn, level, body.scope_id, state, body.reason, claims.subject
            )
            await rt.repo.audit.append(
                conn,
                actor=claims.subject,
                action="risk.kill_switch",
                subject=f"{body.level}:{body.scope_id or 'platform'}",
                outcome=body.state,
                details={
                    "level": body.level,
                    "scope_id": body.scope_id,
                    "state": body.state,
                    "reason": body.reason[:200],
                    "cancel_open": str(body.cancel_open),
                },
            )
            await rt.risk_store.notify_changed(conn)
        rt.ledger.audit_queued.set()
        rt.risk_state.set_switch(level, body.scope_id, switch)
        canceled: list[str] = []
        queued: list[str] = []
        if body.cancel_open:
            canceled, queued = await _cancel_scope(rt, claims, level, body.scope_id, body.reason)
        return {
            "switch": switch.public(),
            "cancel_requested": canceled,
            "cancel_queued_for_accounts": queued,
        }

    return router


async def _cancel_scope(
    rt: OrderManagementRuntime, claims: Claims, level: Level, scope_id: str, reason: str
) -> tuple[list[str], list[str]]:
    """Cancel-all for every account with open orders in the scope (through each account's
    owner); returns the orders cancelled here and the accounts queued for another instance."""
    async with rt.db.connection() as conn:
        clauses, params = ["open"], []
        if level is Level.EXCHANGE:
            clauses.append("exchange = %s")
            params.append(scope_id)
        elif level is Level.ACCOUNT:
            clauses.append("account_id = %s")
            params.append(scope_id)
        cursor = await conn.execute(
            f"SELECT DISTINCT account_id FROM {rt.db.t.orders} WHERE {' AND '.join(clauses)}",
            params,
        )
        accounts = sorted(str(r[0]) for r in await cursor.fetchall())
    canceled: list[str] = []
    queued: list[str] = []
    stamp = uuid.uuid4().hex
    for account_id in accounts:
        command = CancelAll(
            Origin(account_id, f"kill-switch:{stamp}", claims.subject, f"http:{claims.subject}"),
            exchange=scope_id if level is Level.EXCHANGE else None,
            reason=f"kill switch HALTED ({level.value} {scope_id or 'platform'}): {reason}"[:300],
        )
        try:
            outcome = await rt.router.submit(command)
        except Queued:
            queued.append(account_id)
            continue
        canceled += [o.order_id for o in outcome.orders]
    return canceled, queued
