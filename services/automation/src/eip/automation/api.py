"""The HTTP API under ``/v1``: rules (``rules:read`` / ``rules:write``, and only the accounts of
the caller's token: ``claims.may_use_account``) and arbitrage opportunities (``alerts:read``).

A rule of an account the token does not cover is answered 404 like a rule that does not exist,
so a token cannot learn which rule ids exist elsewhere. Every change is audited in its own
transaction (``storage/rules.py``); a change that cannot be stored is 503 and is not made.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from eip.automation import webhooks
from eip.automation.arbitrage import query_opportunities, query_spreads
from eip.automation.arbitrage_execution import AccountConfig
from eip.automation.rules.model import (
    Action,
    Condition,
    Exchange,
    Limits,
    Positive,
    RuleDefinition,
    Symbol,
)
from eip.automation.storage.arbitrage import AccountNotFound, ArbitrageStore
from eip.automation.storage.rules import Firing, RuleNotFound, RuleRecord, RuleStore, Status
from eip.observability.http import ApiError, error_responses
from eip.observability.inputs import Instant, Text
from eip.storage import DatabaseUnavailable
from eip.tokens import Claims, require_scope

router = APIRouter(prefix="/v1", tags=["rules"])
RuleId = Annotated[Text, Path(min_length=1, max_length=64)]
AccountId = Annotated[Text, Field(min_length=1, max_length=64)]


class NewRule(BaseModel):
    account_id: AccountId
    name: Annotated[Text, Field(min_length=1, max_length=120)]
    condition: Condition
    action: Action
    limits: Limits = Limits()
    paper: bool = Field(default=False, description="simulate orders against the live book")


class RuleUpdate(BaseModel):
    name: Annotated[Text, Field(min_length=1, max_length=120)]
    condition: Condition
    action: Action
    limits: Limits = Limits()
    paper: bool = Field(default=False, description="simulate orders against the live book")


class Rule(BaseModel):
    rule_id: str
    account_id: str
    name: str
    version: int
    status: Status
    status_reason: str = Field(description="why the rule paused itself or completed")
    condition: Condition
    action: Action
    limits: Limits
    paper: bool
    consecutive_errors: int
    firings: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class Rules(BaseModel):
    rules: list[Rule]


class FiringOut(BaseModel):
    firing_id: str = Field(description="rule id:version:trigger; the command's idempotency key")
    version: int
    trigger: str
    fired_at: datetime
    action: str
    outcome: Literal["command", "alert", "refused", "error", "schedule", "paper"]
    reason: str
    notional: str | None
    command_id: str | None
    orders: list[OrderOut] = Field(
        description="what order management made of the firing's commands (orders.events.v1)"
    )


class OrderOut(BaseModel):
    order_id: str = Field(description="order management's id")
    idempotency_key: str = Field(
        description="the firing id, <firing id>/<slice> or an order list's <key>#<role>"
    )
    exchange: str
    symbol: str
    side: str
    state: str = Field(description="order management's state, as its latest event said")
    filled_quantity: str
    average_price: str | None
    reason: str
    version: int
    updated_at: datetime


class Firings(BaseModel):
    firings: list[FiringOut]


class ArbitrageLegOut(BaseModel):
    exchange: str
    best_price: str
    worst_price: str
    average_price: str
    notional: str
    taker_fee_rate: str


class OpportunityOut(BaseModel):
    opportunity_id: str
    symbol: str
    buy: ArbitrageLegOut
    sell: ArbitrageLegOut
    size: str
    gross_profit: str
    fees: str
    net_profit: str
    net_profit_bps: str
    first_seen: datetime
    last_seen: datetime
    closed_at: datetime | None
    peak_size: str
    peak_net_profit: str


class Opportunities(BaseModel):
    opportunities: list[OpportunityOut]


class SpreadPoint(BaseModel):
    at: datetime
    spread_bps: str = Field(description="(sell venue's best bid - buy venue's best ask) / ask")


class SpreadSeries(BaseModel):
    symbol: str
    buy_exchange: str
    sell_exchange: str
    points: list[SpreadPoint]


def store_of(request: Request) -> RuleStore:
    store: RuleStore = request.app.state.rules
    if not store.migrated:
        raise ApiError(503, "database_unavailable", "the rules are not available yet")
    return store


def _unavailable(exc: DatabaseUnavailable) -> ApiError:
    return ApiError(
        503,
        "database_unavailable",
        "PostgreSQL is unavailable; nothing changed",
        {"reason": str(exc)},
    )


def _out(r: RuleRecord) -> Rule:
    d = r.definition
    return Rule(
        rule_id=r.rule_id,
        account_id=r.account_id,
        name=r.name,
        version=r.version,
        status=r.status,
        status_reason=r.status_reason,
        condition=d.condition,
        action=d.action,
        limits=d.limits,
        paper=d.paper,
        consecutive_errors=r.consecutive_errors,
        firings=r.firings,
        created_at=r.created_at,
        created_by=r.created_by,
        updated_at=r.updated_at,
        updated_by=r.updated_by,
    )


def _firing(f: Firing) -> FiringOut:
    return FiringOut(
        firing_id=f.firing_id,
        version=f.version,
        trigger=f.trigger,
        fired_at=f.fired_at,
        action=f.action,
        outcome=f.outcome,
        reason=f.reason,
        notional=None if f.notional is None else str(f.notional),
        command_id=f.command_id,
        orders=[
            OrderOut(
                order_id=o.order_id,
                idempotency_key=o.idempotency_key,
                exchange=o.exchange,
                symbol=o.symbol,
                side=o.side,
                state=o.state,
                filled_quantity=str(o.filled_quantity),
                average_price=None if o.average_price is None else str(o.average_price),
                reason=o.reason,
                version=o.version,
                updated_at=o.updated_at,
            )
            for o in f.orders
        ],
    )


async def _visible(store: RuleStore, rule_id: str, claims: Claims) -> RuleRecord:
    try:
        record = await store.get(rule_id)
    except RuleNotFound:
        raise ApiError(404, "not_found", "no such rule") from None
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    if record.status == "deleted" or not claims.may_use_account(record.account_id):
        raise ApiError(404, "not_found", "no such rule")
    return record


def _definition(body: NewRule | RuleUpdate) -> RuleDefinition:
    try:
        return RuleDefinition(
            name=body.name,
            condition=body.condition,
            action=body.action,
            limits=body.limits,
            paper=body.paper,
        )
    except ValueError as exc:
        raise ApiError(422, "invalid_rule", str(exc).splitlines()[-1][:300]) from None


@router.post(
    "/rules",
    status_code=201,
    responses=error_responses(),
    summary="Create a rule for an account of the token",
)
async def create_rule(
    body: NewRule,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:write"))],
) -> Rule:
    if not claims.may_use_account(body.account_id):
        raise ApiError(403, "forbidden", "token does not cover this account")
    definition = _definition(body)
    try:
        record = await store_of(request).create(body.account_id, definition, claims.subject)
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    return _out(record)


@router.get("/rules", summary="The rules of the token's accounts")
async def list_rules(
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:read"))],
    account_id: Annotated[Text | None, Query(min_length=1, max_length=64)] = None,
) -> Rules:
    accounts = sorted(claims.accounts)
    if account_id is not None:
        accounts = [account_id] if claims.may_use_account(account_id) else []
    try:
        records = await store_of(request).rules(accounts)
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    return Rules(rules=[_out(r) for r in records])


@router.get("/rules/{rule_id}", responses=error_responses(404), summary="One rule")
async def get_rule(
    rule_id: RuleId,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:read"))],
) -> Rule:
    return _out(await _visible(store_of(request), rule_id, claims))


@router.put(
    "/rules/{rule_id}",
    responses=error_responses(404),
    summary="A new version of the rule's definition (its evaluation state starts afresh)",
)
async def update_rule(
    rule_id: RuleId,
    body: RuleUpdate,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:write"))],
) -> Rule:
    store = store_of(request)
    await _visible(store, rule_id, claims)
    definition = _definition(body)
    try:
        return _out(await store.update(rule_id, definition, claims.subject))
    except RuleNotFound:
        raise ApiError(404, "not_found", "no such rule") from None
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None


async def _set(
    request: Request, rule_id: str, claims: Claims, status: Status
) -> tuple[RuleRecord, bool]:
    store = store_of(request)
    current = await _visible(store, rule_id, claims)
    if current.status == "completed" and status != "deleted":
        raise ApiError(409, "rule_completed", "the rule reached its maximum number of firings")
    try:
        return await store.set_status(rule_id, status, claims.subject)
    except RuleNotFound:
        raise ApiError(404, "not_found", "no such rule") from None
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None


@router.post(
    "/rules/{rule_id}/pause",
    responses=error_responses(404, 409),
    summary="Pause the rule (idempotent)",
)
async def pause_rule(
    rule_id: RuleId,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:write"))],
) -> Rule:
    return _out((await _set(request, rule_id, claims, "paused"))[0])


@router.post(
    "/rules/{rule_id}/resume",
    responses=error_responses(404, 409),
    summary="Resume the rule (idempotent); its error count starts again from zero",
)
async def resume_rule(
    rule_id: RuleId,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:write"))],
) -> Rule:
    return _out((await _set(request, rule_id, claims, "active"))[0])


@router.delete(
    "/rules/{rule_id}",
    status_code=204,
    responses=error_responses(404),
    summary="Delete the rule (its firings are kept)",
)
async def delete_rule(
    rule_id: RuleId,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:write"))],
) -> Response:
    await _set(request, rule_id, claims, "deleted")
    return Response(status_code=204)


@router.get("/rules/{rule_id}/firings", responses=error_responses(404), summary="Its firings")
async def rule_firings(
    rule_id: RuleId,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:read"))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Firings:
    store = store_of(request)
    await _visible(store, rule_id, claims)
    try:
        return Firings(firings=[_firing(f) for f in await store.firings(rule_id, limit)])
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None


class PaperFillOut(BaseModel):
    firing_id: str
    fired_at: datetime
    exchange: str
    symbol: str
    side: str
    filled_size: str
    filled_notional: str
    average_price: str | None
    fee: str
    slippage_vs_mid_bps: str | None
    complete: bool = Field(description="false: the book (or the limit price) did not cover it all")


class PaperResults(BaseModel):
    fills: list[PaperFillOut]
    filled_notional: str = Field(description="the fills' total, quote")
    fees: str


@router.get(
    "/rules/{rule_id}/paper",
    responses=error_responses(404),
    summary="A paper rule's simulated fills, kept apart from real orders",
)
async def rule_paper_fills(
    rule_id: RuleId,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:read"))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> PaperResults:
    store = store_of(request)
    await _visible(store, rule_id, claims)
    try:
        rows = await store.paper_fills(rule_id, limit)
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None

    fills = [
        PaperFillOut(
            firing_id=r["firing_id"],
            fired_at=r["fired_at"],
            exchange=r["exchange"],
            symbol=r["symbol"],
            side=r["side"],
            filled_size=str(r["filled_size"]),
            filled_notional=str(r["filled_notional"]),
            average_price=_text(r["average_price"]),
            fee=str(r["fee"]),
            slippage_vs_mid_bps=_text(r["slippage_vs_mid_bps"]),
            complete=r["complete"],
        )
        for r in rows
    ]
    return PaperResults(
        fills=fills,
        filled_notional=str(sum((r["filled_notional"] for r in rows), Decimal(0))),
        fees=str(sum((r["fee"] for r in rows), Decimal(0))),
    )


arbitrage = APIRouter(prefix="/v1/arbitrage", tags=["arbitrage"])


@arbitrage.get("/opportunities", summary="Cross-exchange opportunities, newest first")
async def opportunities(
    request: Request,
    _: Annotated[Claims, Depends(require_scope("alerts:read"))],
    symbol: Annotated[Symbol | None, Query()] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Opportunities:
    store = store_of(request)
    try:
        async with store.connection() as conn:
            rows = await query_opportunities(conn, store.schema, symbol, open_only, limit)
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    return Opportunities(opportunities=[_opportunity(row) for row in rows])


@arbitrage.get("/spreads", summary="A pair of venues' spread over time (one point a second)")
async def spreads(
    request: Request,
    _: Annotated[Claims, Depends(require_scope("alerts:read"))],
    symbol: Annotated[Symbol, Query()],
    buy_exchange: Annotated[Text, Query(min_length=1, max_length=32)],
    sell_exchange: Annotated[Text, Query(min_length=1, max_length=32)],
    since: Annotated[Instant | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 3600,
) -> SpreadSeries:
    store = store_of(request)
    start = since or datetime.now(UTC) - timedelta(hours=1)
    try:
        async with store.connection() as conn:
            points = await query_spreads(
                conn, store.schema, symbol, buy_exchange, sell_exchange, start, limit
            )
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    return SpreadSeries(
        symbol=symbol,
        buy_exchange=buy_exchange,
        sell_exchange=sell_exchange,
        points=[SpreadPoint(at=at, spread_bps=str(bps)) for at, bps in points],
    )


def _opportunity(row: dict[str, Any]) -> OpportunityOut:
    last = row["last"]
    return OpportunityOut(
        opportunity_id=str(row["opportunity_id"]),
        symbol=row["symbol"],
        buy=ArbitrageLegOut(**last["buy"]),
        sell=ArbitrageLegOut(**last["sell"]),
        size=str(row["size"]),
        gross_profit=last["gross_profit"],
        fees=last["fees"],
        net_profit=str(row["net_profit"]),
        net_profit_bps=str(row["net_profit_bps"]),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        closed_at=row["closed_at"],
        peak_size=str(row["peak_size"]),
        peak_net_profit=str(row["peak_net_profit"]),
    )


# -- executing opportunities: the per-account opt-in and the executions ------------------------

AccountPath = Annotated[Text, Path(min_length=1, max_length=64)]
ExecutionPath = Annotated[Text, Path(min_length=1, max_length=64)]


class ArbitrageAccountIn(BaseModel):
    enabled: bool = Field(description="execute opportunities for this account (off by default)")
    exchanges: list[Exchange] = Field(
        min_length=2, max_length=20, description="the venues it may trade on; both legs' must be"
    )
    symbols: list[Symbol] = Field(min_length=1, max_length=100)
    max_notional_per_execution: Positive = Field(description="quote, at the buy leg's limit")
    max_notional_per_day: Positive = Field(description="quote, per UTC day of executions")
    min_net_profit_bps: Annotated[Decimal, Field(ge=0, le=10_000, allow_inf_nan=False)] = Field(
        description="the walk's net profit after fees, in bps of its buy notional, to act"
    )
    cooldown_s: int = Field(default=0, ge=0, le=86_400, description="between two executions")
    lot: Positive = Field(
        default=Decimal("0.00000001"),
        description="the venues' quantity step: the quantity is cut down to a multiple of it",
    )


class ArbitrageAccount(ArbitrageAccountIn):
    account_id: str
    held_reason: str = Field(
        description="non-empty: an execution failed and nothing is executed until released"
    )


class ExecutionLeg(BaseModel):
    role: Literal["buy", "sell", "unwind"]
    idempotency_key: str = Field(description="<execution id>#buy, #sell or #unwind")
    exchange: str
    symbol: str
    side: str
    order_type: str
    quantity: str
    price: str | None = Field(description="the IOC limit; none for the unwind's market order")
    order_id: str | None = Field(description="order management's id, once its event is seen")
    state: str = Field(description="order management's state ('sent' before its first event)")
    filled_quantity: str
    average_price: str | None
    reason: str
    updated_at: datetime


class ExecutionOut(BaseModel):
    execution_id: str = Field(description="derived from the opportunity and the account")
    opportunity_id: str
    account_id: str
    symbol: str
    buy_exchange: str
    sell_exchange: str
    quantity: str
    buy_price: str
    sell_price: str
    notional: str
    expected_net_profit: str
    expected_net_profit_bps: str
    state: Literal["sent", "both_filled", "missed", "unwinding", "unwound", "failed"]
    reason: str
    created_at: datetime
    updated_at: datetime
    legs: list[ExecutionLeg]


class Executions(BaseModel):
    executions: list[ExecutionOut]


def executions_of(request: Request) -> ArbitrageStore:
    store_of(request)  # 503 until migrated
    executions: ArbitrageStore = request.app.state.automation.executions
    return executions


def _account_out(c: AccountConfig) -> ArbitrageAccount:
    return ArbitrageAccount(
        account_id=c.account_id,
        enabled=c.enabled,
        exchanges=list(c.exchanges),
        symbols=list(c.symbols),
        max_notional_per_execution=c.max_notional_per_execution,
        max_notional_per_day=c.max_notional_per_day,
        min_net_profit_bps=c.min_net_profit_bps,
        cooldown_s=c.cooldown_s,
        lot=c.lot,
        held_reason=c.held_reason,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _execution_out(row: dict[str, Any]) -> ExecutionOut:
    return ExecutionOut(
        execution_id=row["execution_id"],
        opportunity_id=str(row["opportunity_id"]),
        account_id=row["account_id"],
        symbol=row["symbol"],
        buy_exchange=row["buy_exchange"],
        sell_exchange=row["sell_exchange"],
        quantity=str(row["quantity"]),
        buy_price=str(row["buy_price"]),
        sell_price=str(row["sell_price"]),
        notional=str(row["notional"]),
        expected_net_profit=str(row["expected_net_profit"]),
        expected_net_profit_bps=str(row["expected_net_profit_bps"]),
        state=row["state"],
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        legs=[
            ExecutionLeg(
                role=leg["role"],
                idempotency_key=leg["idempotency_key"],
                exchange=leg["exchange"],
                symbol=leg["symbol"],
                side=leg["side"],
                order_type=leg["order_type"],
                quantity=str(leg["quantity"]),
                price=_text(leg["price"]),
                order_id=leg["order_id"],
                state=leg["state"],
                filled_quantity=str(leg["filled_quantity"]),
                average_price=_text(leg["average_price"]),
                reason=leg["reason"],
                updated_at=leg["updated_at"],
            )
            for leg in row["legs"]
        ],
    )


def _covered(claims: Claims, account_id: str) -> None:
    if not claims.may_use_account(account_id):
        raise ApiError(403, "forbidden", "token does not cover this account")


@arbitrage.put(
    "/accounts/{account_id}",
    responses=error_responses(),
    summary="Set whether and how opportunities are executed for an account (audited)",
)
async def set_arbitrage_account(
    account_id: AccountPath,
    body: ArbitrageAccountIn,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("automation:admin"))],
) -> ArbitrageAccount:
    _covered(claims, account_id)
    if body.max_notional_per_execution > body.max_notional_per_day:
        raise ApiError(
            422,
            "invalid_request",
            "max_notional_per_execution is above max_notional_per_day",
            {"field": "max_notional_per_execution"},
        )
    config = AccountConfig(
        account_id=account_id,
        enabled=body.enabled,
        exchanges=tuple(sorted(set(body.exchanges))),
        symbols=tuple(sorted(set(body.symbols))),
        max_notional_per_execution=body.max_notional_per_execution,
        max_notional_per_day=body.max_notional_per_day,
        min_net_profit_bps=body.min_net_profit_bps,
        cooldown_s=body.cooldown_s,
        lot=body.lot,
    )
    try:
        return _account_out(await executions_of(request).set_account(config, claims.subject))
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None


@arbitrage.get(
    "/accounts/{account_id}",
    responses=error_responses(404),
    summary="An account's execution settings (404: never set, i.e. off)",
)
async def get_arbitrage_account(
    account_id: AccountPath,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("automation:admin"))],
) -> ArbitrageAccount:
    if not claims.may_use_account(account_id):
        raise ApiError(404, "not_found", "no execution settings for this account")
    try:
        config = await executions_of(request).account(account_id)
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    if config is None:
        raise ApiError(404, "not_found", "no execution settings for this account")
    return _account_out(config)


@arbitrage.post(
    "/accounts/{account_id}/release",
    responses=error_responses(404),
    summary="Lift the hold a failed execution put on the account (idempotent, audited)",
)
async def release_arbitrage_account(
    account_id: AccountPath,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("automation:admin"))],
) -> ArbitrageAccount:
    if not claims.may_use_account(account_id):
        raise ApiError(404, "not_found", "no execution settings for this account")
    try:
        return _account_out(await executions_of(request).release(account_id, claims.subject))
    except AccountNotFound:
        raise ApiError(404, "not_found", "no execution settings for this account") from None
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None


@arbitrage.get("/executions", summary="Executions of the token's accounts, newest first")
async def list_executions(
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:read"))],
    account_id: Annotated[Text | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Executions:
    accounts = sorted(claims.accounts)
    if account_id is not None:
        accounts = [account_id] if claims.may_use_account(account_id) else []
    try:
        rows = await executions_of(request).executions(accounts, limit)
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    return Executions(executions=[_execution_out(r) for r in rows])


@arbitrage.get(
    "/executions/{execution_id}",
    responses=error_responses(404),
    summary="One execution with its legs",
)
async def get_execution(
    execution_id: ExecutionPath,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:read"))],
) -> ExecutionOut:
    try:
        row = await executions_of(request).execution(execution_id)
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    if row is None or not claims.may_use_account(row["account_id"]):
        raise ApiError(404, "not_found", "no such execution")
    return _execution_out(row)


webhooks_router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
WebhookId = Annotated[Text, Path(min_length=1, max_length=64)]
EventName = Literal["rule.fired", "rule.paused", "arbitrage.opened", "arbitrage.failed"]


class NewWebhook(BaseModel):
    account_id: AccountId
    url: Annotated[Text, Field(min_length=8, max_length=2000, pattern=r"^https?://")]
    events: list[EventName] = Field(min_length=1, max_length=4)


class Webhook(BaseModel):
    webhook_id: str
    account_id: str
    url: str
    events: list[str]
    created_at: datetime
    created_by: str


class RegisteredWebhook(Webhook):
    secret: str = Field(
        description="the key of X-EIP-Signature (HMAC-SHA256 of '<X-EIP-Timestamp>.<body>');"
        " shown once"
    )


class Webhooks(BaseModel):
    webhooks: list[Webhook]


class DeadLetter(BaseModel):
    event_id: str
    event_type: str
    attempts: int
    last_error: str
    created_at: datetime
    payload: dict[str, Any]


class DeadLetters(BaseModel):
    dead_letters: list[DeadLetter]


def _service_key(request: Request) -> str:
    key: str = request.app.state.automation.settings.webhook_signing_key.get_secret_value()
    if not key:
        raise ApiError(
            503,
            "webhooks_not_configured",
            "the service has no AUTOMATION_WEBHOOK_SIGNING_KEY; webhooks cannot be signed",
        )
    return key


async def _webhook(store: RuleStore, webhook_id: str, claims: Claims) -> dict[str, Any]:
    try:
        uuid.UUID(webhook_id)
    except ValueError:
        raise ApiError(404, "not_found", "no such webhook") from None
    try:
        async with store.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL("SELECT * FROM {} WHERE webhook_id = %s AND deleted_at IS NULL").format(
                    sql.Identifier(store.schema, "webhooks")
                ),
                (webhook_id,),
            )
            row = await cur.fetchone()
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    if row is None or not claims.may_use_account(row["account_id"]):
        raise ApiError(404, "not_found", "no such webhook")
    return dict(row)


def _webhook_out(row: dict[str, Any]) -> Webhook:
    return Webhook(
        webhook_id=str(row["webhook_id"]),
        account_id=row["account_id"],
        url=row["url"],
        events=list(row["events"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


@webhooks_router.post(
    "",
    status_code=201,
    summary="Register a webhook for an account of the token (its secret is shown once)",
)
async def register_webhook(
    body: NewWebhook,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:write"))],
) -> RegisteredWebhook:
    if not claims.may_use_account(body.account_id):
        raise ApiError(403, "forbidden", "token does not cover this account")
    key = _service_key(request)
    store = store_of(request)
    events: list[str] = sorted(set(body.events))
    try:
        async with store.connection() as conn, conn.transaction():
            webhook_id, created = await webhooks.register(
                conn, store.schema, body.account_id, body.url, events, claims.subject
            )
            entry = await store.audit().append(
                conn,
                actor=claims.subject,
                action="webhook.create",
                subject=webhook_id,
                details={"account": body.account_id, "events": ",".join(events)},
            )
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    await store.audit().publish([entry])
    return RegisteredWebhook(
        webhook_id=webhook_id,
        account_id=body.account_id,
        url=body.url,
        events=events,
        created_at=created,
        created_by=claims.subject,
        secret=webhooks.webhook_key(key, webhook_id),
    )


@webhooks_router.get("", summary="The webhooks of the token's accounts")
async def list_webhooks(
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:read"))],
) -> Webhooks:
    store = store_of(request)
    try:
        async with store.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL(
                    "SELECT * FROM {} WHERE deleted_at IS NULL AND account_id = ANY(%s)"
                    " ORDER BY created_at"
                ).format(sql.Identifier(store.schema, "webhooks")),
                (sorted(claims.accounts),),
            )
            rows = await cur.fetchall()
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    return Webhooks(webhooks=[_webhook_out(dict(r)) for r in rows])


@webhooks_router.delete(
    "/{webhook_id}", status_code=204, responses=error_responses(404), summary="Remove a webhook"
)
async def delete_webhook(
    webhook_id: WebhookId,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:write"))],
) -> Response:
    store = store_of(request)
    row = await _webhook(store, webhook_id, claims)
    try:
        async with store.connection() as conn, conn.transaction():
            await conn.execute(
                sql.SQL("UPDATE {} SET deleted_at = now() WHERE webhook_id = %s").format(
                    sql.Identifier(store.schema, "webhooks")
                ),
                (webhook_id,),
            )
            entry = await store.audit().append(
                conn,
                actor=claims.subject,
                action="webhook.delete",
                subject=webhook_id,
                details={"account": row["account_id"]},
            )
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    await store.audit().publish([entry])
    return Response(status_code=204)


@webhooks_router.get(
    "/{webhook_id}/dead-letters",
    responses=error_responses(404),
    summary="Deliveries given up after every retry, newest first",
)
async def dead_letters(
    webhook_id: WebhookId,
    request: Request,
    claims: Annotated[Claims, Depends(require_scope("rules:read"))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeadLetters:
    store = store_of(request)
    await _webhook(store, webhook_id, claims)
    try:
        async with store.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL(
                    "SELECT * FROM {} WHERE webhook_id = %s AND status = 'dead'"
                    " ORDER BY id DESC LIMIT %s"
                ).format(sql.Identifier(store.schema, "webhook_deliveries")),
                (webhook_id, limit),
            )
            rows = await cur.fetchall()
    except DatabaseUnavailable as exc:
        raise _unavailable(exc) from None
    return DeadLetters(
        dead_letters=[
            DeadLetter(
                event_id=r["event_id"],
                event_type=r["event_type"],
                attempts=r["attempts"],
                last_error=r["last_error"],
                created_at=r["created_at"],
                payload=r["payload"],
            )
            for r in rows
        ]
    )
