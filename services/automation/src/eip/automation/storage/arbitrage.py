"""Arbitrage executions in PostgreSQL: the accounts that opted in, each execution with its legs,
and the transactions that move an execution along ``arbitrage_execution.TRANSITIONS``.

Exactly once, as firings do it (``storage/rules.py``): an execution is one transaction that
locks the account's opt-in row, checks the limits against what the account executed before,
inserts the execution under its deterministic id (the opportunity's lifetime and the account),
its legs, their two commands in ``command_outbox`` (the one relay of the service publishes
them, with their idempotency keys ``<execution id>#buy`` / ``#sell``) and the audit event. The
same opportunity again finds the row and sends nothing.

Order management's events (``orders.events.v1``, read by ``runtime.py``) update a leg only with
a newer order version; the transaction that settles a leg locks the execution, takes the step
the table allows (both legs settled: matched, missed or unwinding; the unwind settled: unwound or
failed), writes the unwind's command when there is one, and audits the step. A FAILED execution
holds its account (``held_reason``): nothing more is executed for it until an administrator
releases it (``release``), and the failure is alerted (a webhook event ``arbitrage.failed``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from eip.audit import AuditEntry
from eip.automation import webhooks
from eip.automation.arbitrage import Opportunity
from eip.automation.arbitrage_execution import (
    FINAL_ORDER_STATES,
    REQUESTED_BY,
    AccountConfig,
    Plan,
    State,
    advance,
    execution_id,
    leg_key,
    legs_event,
    plan,
    unwind_event,
    unwind_of,
)
from eip.automation.commands import order_command
from eip.automation.executions import Execution
from eip.automation.rules.model import PlaceOrderAction
from eip.automation.storage.rules import SERVICE_ACTOR, RuleStore
from eip.events.topics import ALERTS_ARBITRAGE_EXECUTIONS, TopicSpec
from eip.events.v1 import automation_pb2

log = logging.getLogger(__name__)


class AccountNotFound(Exception):
    pass


@dataclass(frozen=True)
class Settled:
    """What one order event did to its execution (None fields: nothing changed)."""

    execution_id: str
    state: State | None = None
    alert: dict[str, Any] | None = None


class ArbitrageStore:
    def __init__(self, rules: RuleStore, topic: TopicSpec = ALERTS_ARBITRAGE_EXECUTIONS) -> None:
        self.rules = rules
        self.schema = rules.schema
        self.topic = topic

    async def relay(self, batch: int = 100) -> int:
        """Publish the executions' pending state changes (alerts.arbitrage.executions.v1)."""
        return await self.rules.relay_outbox(
            "arbitrage_execution_outbox", self.topic, automation_pb2.ArbitrageExecution, batch
        )

    def _t(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)

    # -- the opt-in (HTTP) ----------------------------------------------------------------------

    async def set_account(self, config: AccountConfig, actor: str) -> AccountConfig:
        """Create or change the account's opt-in (a hold stays until released)."""
        async with self.rules.connection() as conn, conn.transaction():
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (account_id, enabled, exchanges, symbols,"
                    " max_notional_per_execution, max_notional_per_day, min_net_profit_bps,"
                    " cooldown_s, lot, updated_at, updated_by)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s)"
                    " ON CONFLICT (account_id) DO UPDATE SET enabled = EXCLUDED.enabled,"
                    " exchanges = EXCLUDED.exchanges, symbols = EXCLUDED.symbols,"
                    " max_notional_per_execution = EXCLUDED.max_notional_per_execution,"
                    " max_notional_per_day = EXCLUDED.max_notional_per_day,"
                    " min_net_profit_bps = EXCLUDED.min_net_profit_bps,"
                    " cooldown_s = EXCLUDED.cooldown_s, lot = EXCLUDED.lot,"
                    " updated_at = now(), updated_by = EXCLUDED.updated_by"
                ).format(self._t("arbitrage_accounts")),
                (
                    config.account_id,
                    config.enabled,
                    list(config.exchanges),
                    list(config.symbols),
                    config.max_notional_per_execution,
                    config.max_notional_per_day,
                    config.min_net_profit_bps,
                    config.cooldown_s,
                    config.lot,
                    actor,
                ),
            )
            entry = await self.rules.audit().append(
                conn,
                actor=actor,
                action="arbitrage.account.set",
                subject=config.account_id,
                details={
                    "enabled": str(config.enabled).lower(),
                    "exchanges": ",".join(config.exchanges),
                    "symbols": ",".join(config.symbols),
                    "max_notional_per_execution": str(config.max_notional_per_execution),
                    "max_notional_per_day": str(config.max_notional_per_day),
                    "min_net_profit_bps": str(config.min_net_profit_bps),
                    "cooldown_s": str(config.cooldown_s),
                    "lot": str(config.lot),
                },
            )
            stored = await self._account(conn, config.account_id)
        await self._publish([entry])
        assert stored is not None
        return stored

    async def account(self, account_id: str) -> AccountConfig | None:
        async with self.rules.connection() as conn:
            return await self._account(conn, account_id)

    async def release(self, account_id: str, actor: str) -> AccountConfig:
        """Lift the hold a failed execution put on the account (idempotent)."""
        async with self.rules.connection() as conn, conn.transaction():
            held = await self._account(conn, account_id, lock=True)
            if held is None:
                raise AccountNotFound(account_id)
            if not held.held_reason:
                return held
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET held_reason = '', updated_at = now(), updated_by = %s"
                    " WHERE account_id = %s"
                ).format(self._t("arbitrage_accounts")),
                (actor, account_id),
            )
            entry = await self.rules.audit().append(
                conn,
                actor=actor,
                action="arbitrage.account.release",
                subject=account_id,
                details={"held_reason": held.held_reason[:500]},
            )
            released = await self._account(conn, account_id)
        await self._publish([entry])
        assert released is not None
        return released

    async def candidates(self, symbol: str, buy: str, sell: str) -> list[str]:
        """The accounts that execute ``symbol`` between these two venues and are not held."""
        async with self.rules.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT account_id FROM {} WHERE enabled AND held_reason = ''"
                    " AND %s = ANY(symbols) AND %s = ANY(exchanges) AND %s = ANY(exchanges)"
                    " ORDER BY account_id"
                ).format(self._t("arbitrage_accounts")),
                (symbol, buy, sell),
            )
            return [str(row[0]) for row in await cur.fetchall()]

    # -- executing ------------------------------------------------------------------------------

    async def execute(self, o: Opportunity, account_id: str, now: datetime | None = None) -> str:
        """Execute the opportunity for the account if its opt-in and limits allow; the
        execution id, or why nothing was sent (``already_executed``, ``cooldown``, a
        ``plan`` refusal, ...)."""
        now = now or datetime.now(UTC)
        w = o.walk
        exec_id = execution_id(o.opportunity_id, account_id)
        async with self.rules.connection() as conn, conn.transaction():
            config = await self._account(conn, account_id, lock=True)
            if config is None:
                return "not_configured"
            if not config.covers(w.symbol, w.buy.exchange, w.sell.exchange):
                return "not_covered"
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL(
                    "SELECT bool_or(execution_id = %s) AS done, max(created_at) AS last,"
                    " coalesce(sum(notional) FILTER (WHERE created_at >= %s), 0) AS spent"
                    " FROM {} WHERE account_id = %s"
                ).format(self._t("arbitrage_executions")),
                (exec_id, now.replace(hour=0, minute=0, second=0, microsecond=0), account_id),
            )
            seen = await cur.fetchone()
            assert seen is not None
            if seen["done"]:
                return "already_executed"
            last = seen["last"]
            if last is not None and now - last < timedelta(seconds=config.cooldown_s):
                return "cooldown"
            planned = plan(
                w.size,
                w.buy.worst_price,
                w.sell.worst_price,
                w.net_profit_bps,
                config,
                Decimal(seen["spent"]),
            )
            if isinstance(planned, str):
                return planned
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (execution_id, opportunity_id, account_id, symbol,"
                    " buy_exchange, sell_exchange, quantity, buy_price, sell_price, notional,"
                    " expected_net_profit, expected_net_profit_bps, state, created_at, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'sent', %s, %s)"
                ).format(self._t("arbitrage_executions")),
                (
                    exec_id,
                    o.opportunity_id,
                    account_id,
                    w.symbol,
                    w.buy.exchange,
                    w.sell.exchange,
                    planned.quantity,
                    planned.buy_price,
                    planned.sell_price,
                    planned.notional,
                    # pro rata of the walk's: a floor (a smaller quantity takes the better levels)
                    w.net_profit * planned.quantity / w.size,
                    w.net_profit_bps,
                    now,
                    now,
                ),
            )
            for role, exchange, price in (
                ("buy", w.buy.exchange, planned.buy_price),
                ("sell", w.sell.exchange, planned.sell_price),
            ):
                await self._leg(
                    conn, exec_id, account_id, role, exchange, w.symbol, role, planned, price, now
                )
            await self._announce(conn, exec_id)
            entry = await self.rules.audit().append(
                conn,
                actor=SERVICE_ACTOR,
                action="arbitrage.execute",
                subject=exec_id,
                details={
                    "account": account_id,
                    "opportunity": o.opportunity_id,
                    "symbol": w.symbol,
                    "buy_exchange": w.buy.exchange,
                    "sell_exchange": w.sell.exchange,
                    "quantity": str(planned.quantity),
                    "buy_price": str(planned.buy_price),
                    "sell_price": str(planned.sell_price),
                },
            )
        await self._publish([entry])
        return exec_id

    async def _leg(
        self,
        conn: AsyncConnection[Any],
        exec_id: str,
        account_id: str,
        role: str,
        exchange: str,
        symbol: str,
        side: str,
        planned: Plan | Decimal,
        price: Decimal | None,
        now: datetime,
    ) -> None:
        """A leg's row and its command in the outbox (an IOC limit at ``price``, or a market
        order when there is none: the unwind)."""
        quantity = planned.quantity if isinstance(planned, Plan) else planned
        key = leg_key(exec_id, role)  # type: ignore[arg-type]
        action = PlaceOrderAction(
            type="place_order",
            exchange=exchange,
            symbol=symbol,
            side=side,  # type: ignore[arg-type]
            order_type="market" if price is None else "limit",
            quantity=quantity,
            price=price,
            time_in_force="gtc" if price is None else "ioc",
        )
        await conn.execute(
            sql.SQL(
                "INSERT INTO {} (idempotency_key, execution_id, role, exchange, symbol, side,"
                " order_type, quantity, price) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ).format(self._t("arbitrage_legs")),
            (key, exec_id, role, exchange, symbol, side, action.order_type, quantity, price),
        )
        command = order_command(
            key, account_id, "", action, now, requested_by=f"{REQUESTED_BY}{account_id}"
        )
        await conn.execute(
            sql.SQL("INSERT INTO {} (firing_id, account_id, payload) VALUES (%s, %s, %s)").format(
                self._t("command_outbox")
            ),
            (key, account_id, command.SerializeToString()),
        )

    # -- what order management made of the legs ------------------------------------------------

    async def record_leg(self, e: Execution, now: datetime | None = None) -> Settled | None:
        """Keep a leg's order as its event says (only a newer version changes it), and take
        the execution's next step when the legs (or the unwind) have settled. None when the
        event is no leg of this service's or older than what is kept."""
        now = now or datetime.now(UTC)
        entries: list[AuditEntry] = []
        settled: Settled | None = None
        async with self.rules.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL(
                    "SELECT l.*, x.account_id FROM {} l JOIN {} x USING (execution_id)"
                    " WHERE l.idempotency_key = %s FOR UPDATE OF x, l"
                ).format(self._t("arbitrage_legs"), self._t("arbitrage_executions")),
                (e.idempotency_key,),
            )
            leg = await cur.fetchone()
            if leg is None or int(leg["version"]) >= e.version:
                return None
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET order_id = %s, state = %s, filled_quantity = %s,"
                    " average_price = %s, reason = %s, version = %s, updated_at = %s"
                    " WHERE idempotency_key = %s"
                ).format(self._t("arbitrage_legs")),
                (
                    e.order_id,
                    e.state,
                    e.filled_quantity,
                    e.average_price,
                    e.reason[:500],
                    e.version,
                    e.updated_at,
                    e.idempotency_key,
                ),
            )
            exec_id = str(leg["execution_id"])
            settled = Settled(exec_id)
            if e.state in FINAL_ORDER_STATES and leg["state"] not in FINAL_ORDER_STATES:
                entries.append(
                    await self.rules.audit().append(
                        conn,
                        actor=SERVICE_ACTOR,
                        action="arbitrage.leg",
                        subject=exec_id,
                        outcome="success" if e.state == "filled" else "failure",
                        details={
                            "account": str(leg["account_id"]),
                            "role": str(leg["role"]),
                            "order_id": e.order_id,
                            "state": e.state,
                            "filled_quantity": str(e.filled_quantity),
                            "reason": e.reason[:500],
                        },
                    )
                )
                step = await self._step(conn, exec_id, now)
                if step is not None:
                    settled, entry = step
                    entries.append(entry)
        await self._publish(entries)
        if settled is not None and settled.alert is not None:
            log.error("ALERT arbitrage execution failed", extra=settled.alert)
        return settled

    async def _step(
        self, conn: AsyncConnection[Any], exec_id: str, now: datetime
    ) -> tuple[Settled, AuditEntry] | None:
        """The execution's next step if its legs say one is due (its row is locked)."""
        x = await self._row(conn, exec_id)
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            sql.SQL("SELECT * FROM {} WHERE execution_id = %s").format(self._t("arbitrage_legs")),
            (exec_id,),
        )
        legs = {row["role"]: row for row in await cur.fetchall()}
        state: State = x["state"]
        account = str(x["account_id"])
        details: dict[str, str] = {"account": account}
        reason = ""
        alert: dict[str, Any] | None = None
        if state == "sent":
            if not all(legs[r]["state"] in FINAL_ORDER_STATES for r in ("buy", "sell")):
                return None
            bought, sold = legs["buy"]["filled_quantity"], legs["sell"]["filled_quantity"]
            new = advance(state, legs_event(bought, sold))
            details |= {"bought": str(bought), "sold": str(sold)}
            unwind = unwind_of(x["buy_exchange"], x["sell_exchange"], bought, sold)
            if unwind is not None:
                await self._leg(
                    conn,
                    exec_id,
                    account,
                    "unwind",
                    unwind.exchange,
                    x["symbol"],
                    unwind.side,
                    unwind.quantity,
                    None,
                    now,
                )
                reason = (
                    f"legs filled {bought} bought, {sold} sold:"
                    f" {unwind.side} {unwind.quantity} at market on {unwind.exchange}"
                )
                details |= {
                    "unwind_exchange": unwind.exchange,
                    "unwind_side": unwind.side,
                    "unwind_quantity": str(unwind.quantity),
                }
        elif state == "unwinding":
            u = legs.get("unwind")
            if u is None or u["state"] not in FINAL_ORDER_STATES:
                return None
            new = advance(state, unwind_event(u["quantity"], u["filled_quantity"]))
            details |= {"unwind_state": u["state"], "unwind_filled": str(u["filled_quantity"])}
            reason = x["reason"]  # what the unwind was for
            if new == "failed":
                reason = (
                    f"{reason}; unwind {u['state']} with {u['filled_quantity']}"
                    f" of {u['quantity']} filled on {u['exchange']}"
                    + (f" ({u['reason']})" if u["reason"] else "")
                )[:500]
                alert = {
                    "execution_id": exec_id,
                    "account_id": account,
                    "opportunity_id": str(x["opportunity_id"]),
                    "symbol": x["symbol"],
                    "buy_exchange": x["buy_exchange"],
                    "sell_exchange": x["sell_exchange"],
                    "state": new,
                    "reason": reason,
                    "legs": {
                        role: {
                            "exchange": row["exchange"],
                            "side": row["side"],
                            "state": row["state"],
                            "quantity": str(row["quantity"]),
                            "filled_quantity": str(row["filled_quantity"]),
                        }
                        for role, row in legs.items()
                    },
                }
                await conn.execute(
                    sql.SQL(
                        "UPDATE {} SET held_reason = %s, updated_at = now(), updated_by = %s"
                        " WHERE account_id = %s"
                    ).format(self._t("arbitrage_accounts")),
                    (f"execution {exec_id} failed: {reason}"[:500], SERVICE_ACTOR, account),
                )
                await webhooks.enqueue(
                    conn, self.schema, account, "arbitrage.failed", f"{exec_id}:failed", alert
                )
        else:
            return None
        await conn.execute(
            sql.SQL(
                "UPDATE {} SET state = %s, reason = %s, updated_at = %s WHERE execution_id = %s"
            ).format(self._t("arbitrage_executions")),
            (new, reason, now, exec_id),
        )
        await self._announce(conn, exec_id)
        entry = await self.rules.audit().append(
            conn,
            actor=SERVICE_ACTOR,
            action=f"arbitrage.{new}",
            subject=exec_id,
            outcome="failure" if new == "failed" else "success",
            details=details | ({"reason": reason} if reason else {}),
        )
        return Settled(exec_id, new, alert), entry

    async def _announce(self, conn: AsyncConnection[Any], exec_id: str) -> None:
        """The execution as it now stands, into the outbox of alerts.arbitrage.executions.v1
        (in the transaction that changed it)."""
        (row,) = await self._with_legs(conn, [await self._row(conn, exec_id)])
        message = automation_pb2.ArbitrageExecution(
            execution_id=exec_id,
            opportunity_id=str(row["opportunity_id"]),
            account_id=row["account_id"],
            symbol=row["symbol"],
            buy_exchange=row["buy_exchange"],
            sell_exchange=row["sell_exchange"],
            quantity=str(row["quantity"]),
            state=row["state"],
            reason=row["reason"],
            legs=[
                automation_pb2.ArbitrageExecutionLeg(
                    role=leg["role"],
                    idempotency_key=leg["idempotency_key"],
                    exchange=leg["exchange"],
                    side=leg["side"],
                    quantity=str(leg["quantity"]),
                    price="" if leg["price"] is None else str(leg["price"]),
                    order_id=leg["order_id"] or "",
                    state=leg["state"],
                    filled_quantity=str(leg["filled_quantity"]),
                )
                for leg in row["legs"]
            ],
        )
        message.times.received_time.FromDatetime(datetime.now(UTC))
        await conn.execute(
            sql.SQL("INSERT INTO {} (account_id, payload) VALUES (%s, %s)").format(
                self._t("arbitrage_execution_outbox")
            ),
            (row["account_id"], message.SerializeToString()),
        )

    async def _row(self, conn: AsyncConnection[Any], exec_id: str) -> dict[str, Any]:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            sql.SQL("SELECT * FROM {} WHERE execution_id = %s").format(
                self._t("arbitrage_executions")
            ),
            (exec_id,),
        )
        row = await cur.fetchone()
        assert row is not None
        return dict(row)

    # -- reading (HTTP) -------------------------------------------------------------------------

    async def executions(self, accounts: Iterable[str], limit: int = 100) -> list[dict[str, Any]]:
        """The accounts' executions with their legs, newest first."""
        async with self.rules.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL(
                    "SELECT * FROM {} WHERE account_id = ANY(%s) ORDER BY created_at DESC LIMIT %s"
                ).format(self._t("arbitrage_executions")),
                (list(accounts), limit),
            )
            rows = [dict(r) for r in await cur.fetchall()]
            return await self._with_legs(conn, rows)

    async def execution(self, exec_id: str) -> dict[str, Any] | None:
        async with self.rules.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT 1 FROM {} WHERE execution_id = %s").format(
                    self._t("arbitrage_executions")
                ),
                (exec_id,),
            )
            if await cur.fetchone() is None:
                return None
            return (await self._with_legs(conn, [await self._row(conn, exec_id)]))[0]

    async def _with_legs(
        self, conn: AsyncConnection[Any], rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            sql.SQL(
                "SELECT * FROM {} WHERE execution_id = ANY(%s) ORDER BY idempotency_key"
            ).format(self._t("arbitrage_legs")),
            ([r["execution_id"] for r in rows],),
        )
        legs: dict[str, list[dict[str, Any]]] = {}
        for leg in await cur.fetchall():
            legs.setdefault(leg["execution_id"], []).append(dict(leg))
        order = {"buy": 0, "sell": 1, "unwind": 2}
        for r in rows:
            r["legs"] = sorted(legs.get(r["execution_id"], []), key=lambda x: order[x["role"]])
        return rows

    # -- helpers --------------------------------------------------------------------------------

    async def _account(
        self, conn: AsyncConnection[Any], account_id: str, lock: bool = False
    ) -> AccountConfig | None:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            sql.SQL(
                "SELECT * FROM {} WHERE account_id = %s" + (" FOR UPDATE" if lock else "")
            ).format(self._t("arbitrage_accounts")),
            (account_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        return AccountConfig(
            account_id=row["account_id"],
            enabled=row["enabled"],
            exchanges=tuple(row["exchanges"]),
            symbols=tuple(row["symbols"]),
            max_notional_per_execution=Decimal(row["max_notional_per_execution"]),
            max_notional_per_day=Decimal(row["max_notional_per_day"]),
            min_net_profit_bps=Decimal(row["min_net_profit_bps"]),
            cooldown_s=int(row["cooldown_s"]),
            lot=Decimal(row["lot"]),
            held_reason=row["held_reason"],
        )

    async def _publish(self, entries: list[AuditEntry]) -> None:
        """After the commit, best effort: the audit chain and the commands to Kafka (the
        service's relay loop catches up with what fails here)."""
        try:
            await self.rules.audit().publish(entries)
            await self.rules.relay_commands()
            await self.relay()
        except Exception as exc:  # the rows are the record; the clock loop relays them
            log.warning("arbitrage outbox not relayed yet", extra={"error": repr(exc)})
