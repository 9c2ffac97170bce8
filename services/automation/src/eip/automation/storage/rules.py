"""Rules in PostgreSQL: their definitions and versions, their evaluation state, their firings and
the two outboxes (commands for order management, rule changes for the other instances).

Exactly once, the subtle part. A firing is one transaction: the rule row is locked, the
rule's state is compared with the level the engine assumed (compare-and-set: if another
instance, or this one before a restart, already moved it, nothing happens), the firing row is
inserted under its deterministic id ``<rule id>:<version>:<trigger>`` (the trigger is ``e<n>``,
the n-th firing of that version, or a cron instant), the command goes into the outbox, the
counters move, the audit trail gets the event. A crash before the commit leaves no trace, so
the next evaluation fires again with the same id; a crash after it leaves the state moved, so
nothing fires twice; a second publication of the outbox row carries the same idempotency key,
which order management answers with the first order.

Every failure to reach PostgreSQL is ``DatabaseUnavailable``: the API answers 503 and changes
nothing, evaluation retries.

The wait for the rule row's lock can be bounded (``lock_timeout_s``: the service's
``AUTOMATION_FIRING_LOCK_TIMEOUT_S``): a row held longer (another instance's firing, an
operator's open transaction) ends the transaction with nothing written, ``Applied("locked")``,
and the caller tries the rule again later. Only that statement is bounded (the lock timeout is
set back before the rest), so a busy audit chain never turns a firing away.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from google.protobuf.timestamp_pb2 import Timestamp
from psycopg import AsyncConnection, OperationalError, sql
from psycopg.errors import LockNotAvailable
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from eip.audit import MIGRATIONS as AUDIT_MIGRATIONS
from eip.audit import AuditEntry, AuditTrail
from eip.automation import webhooks
from eip.automation.commands import command_id, order_command
from eip.automation.executions import Execution
from eip.automation.paper import PaperFill
from eip.automation.rules.engine import CompiledRule, Transition
from eip.automation.rules.model import (
    AlertAction,
    CommandAction,
    OrderListAction,
    PlaceOrderAction,
    RuleDefinition,
    SlicedAction,
    TwapAction,
    VwapAction,
)
from eip.bus import Producer
from eip.events.topics import (
    AUDIT_EVENTS,
    AUTOMATION_RULES,
    ORDERS_COMMANDS,
    TopicSpec,
    record_key,
)
from eip.events.v1 import automation_pb2, orders_pb2
from eip.storage import DatabaseUnavailable, apply_migrations

MIGRATIONS = Path(__file__).parent / "migrations"
PoolGetter = Callable[[], "AsyncConnectionPool[AsyncConnection] | None"]
Status = Literal["active", "paused", "completed", "deleted"]
Outcome = Literal["applied", "fired", "conflict", "stale", "locked"]
SERVICE_ACTOR = "automation"

_ACTIONS = {
    "created": automation_pb2.RULE_CHANGE_ACTION_CREATED,
    "updated": automation_pb2.RULE_CHANGE_ACTION_UPDATED,
    "paused": automation_pb2.RULE_CHANGE_ACTION_PAUSED,
    "resumed": automation_pb2.RULE_CHANGE_ACTION_RESUMED,
    "deleted": automation_pb2.RULE_CHANGE_ACTION_DELETED,
    "completed": automation_pb2.RULE_CHANGE_ACTION_COMPLETED,
}


@dataclass(frozen=True)
class RuleRecord:
    rule_id: str
    account_id: str
    name: str
    version: int
    definition: RuleDefinition
    status: Status
    status_reason: str
    consecutive_errors: int
    firings: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class RuleState:
    level: bool | None
    trigger_seq: int
    last_instant: datetime | None
    last_fired_at: datetime | None


@dataclass(frozen=True)
class Firing:
    firing_id: str
    rule_id: str
    version: int
    account_id: str
    trigger: str
    fired_at: datetime
    action: str
    outcome: Literal["command", "alert", "refused", "error", "schedule", "paper"]
    reason: str
    notional: Decimal | None
    command_id: str | None
    # what order management made of its commands (orders.events.v1), oldest order first
    orders: tuple[Execution, ...] = ()


@dataclass
class Schedule:
    firing_id: str
    rule_id: str
    account_id: str
    action: SlicedAction
    started_at: datetime
    next_slice: int
    done_quantity: Decimal
    # each slice's weight (VWAP, once computed); None: equal weights (TWAP, or not yet known)
    weights: list[Decimal] | None = None
    profile: str = ""

    def due_at(self, index: int) -> datetime:
        """Slice ``index`` goes at the end of its interval."""
        return self.started_at + timedelta(seconds=float(self.action.interval_s * (index + 1)))


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    firing: Firing | None = None
    status: Status | None = None  # the rule's new status when the firing changed it


class RuleNotFound(Exception):
    pass


class _RowLocked(Exception):
    """The rule row stayed locked past the lock timeout: the transaction is rolled back."""


class RuleStore:
    def __init__(
        self,
        pool: PoolGetter,
        schema: str,
        audit_schema: str,
        producer: Callable[[], Producer | None],
        commands_topic: TopicSpec = ORDERS_COMMANDS,
        rules_topic: TopicSpec = AUTOMATION_RULES,
        audit_topic: TopicSpec = AUDIT_EVENTS,
        max_consecutive_errors: int = 3,
        lock_timeout_s: float = 0.0,
    ) -> None:
        self._pool = pool
        # 0: a firing waits for its rule's row as long as it takes
        self.lock_timeout_ms = round(lock_timeout_s * 1000)
        self.schema = schema
        self.audit_schema = audit_schema
        self._producer = producer
        self.commands_topic = commands_topic
        self.rules_topic = rules_topic
        self.audit_topic = audit_topic
        self.max_consecutive_errors = max_consecutive_errors
        self.migrated = False

    def _t(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)

    def audit(self) -> AuditTrail:
        return AuditTrail(self.audit_schema, self._producer(), self.audit_topic, pool=self._pool())

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        pool = self._pool()
        if pool is None:
            raise DatabaseUnavailable("not connected to PostgreSQL yet")
        try:
            async with pool.connection() as conn:
                yield conn
        except (OperationalError, PoolTimeout, PoolClosed) as exc:
            raise DatabaseUnavailable(type(exc).__name__) from None

    async def migrate(self) -> None:
        async with self.connection() as conn:
            await apply_migrations(conn, AUDIT_MIGRATIONS, self.audit_schema)
            await apply_migrations(conn, MIGRATIONS, self.schema)
        self.migrated = True

    # -- the rule's life (HTTP) -----------------------------------------------------------------

    async def create(self, account_id: str, definition: RuleDefinition, actor: str) -> RuleRecord:
        rule_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        body = definition.model_dump_json()
        entries: list[AuditEntry] = []
        async with self.connection() as conn, conn.transaction():
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (rule_id, account_id, name, version, definition, status,"
                    " created_at, created_by, updated_at, updated_by)"
                    " VALUES (%s, %s, %s, 1, %s, 'active', %s, %s, %s, %s)"
                ).format(self._t("rules")),
                (rule_id, account_id, definition.name, body, now, actor, now, actor),
            )
            await self._new_version(conn, rule_id, 1, body, now, actor)
            await self._change(conn, rule_id, account_id, 1, "created", actor)
            entries.append(
                await self.audit().append(
                    conn,
                    actor=actor,
                    action="rule.create",
                    subject=rule_id,
                    details={"account": account_id, "version": "1", "name": definition.name},
                )
            )
            record = await self._get(conn, rule_id)
        await self._after_commit(entries)
        return record

    async def update(self, rule_id: str, definition: RuleDefinition, actor: str) -> RuleRecord:
        """A new version of the definition: its state starts afresh (nothing observed)."""
        now = datetime.now(UTC)
        body = definition.model_dump_json()
        async with self.connection() as conn, conn.transaction():
            current = await self._get(conn, rule_id, lock=True)
            if current.status == "deleted":
                raise RuleNotFound(rule_id)
            version = current.version + 1
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET version = %s, definition = %s, name = %s,"
                    " consecutive_errors = 0, updated_at = %s, updated_by = %s WHERE rule_id = %s"
                ).format(self._t("rules")),
                (version, body, definition.name, now, actor, rule_id),
            )
            await self._new_version(conn, rule_id, version, body, now, actor)
            await self._change(conn, rule_id, current.account_id, version, "updated", actor)
            entry = await self.audit().append(
                conn,
                actor=actor,
                action="rule.update",
                subject=rule_id,
                details={"account": current.account_id, "version": str(version)},
            )
            record = await self._get(conn, rule_id)
        await self._after_commit([entry])
        return record

    async def set_status(
        self, rule_id: str, status: Status, actor: str, reason: str = ""
    ) -> tuple[RuleRecord, bool]:
        """(the rule, whether it changed). Pausing a paused rule changes nothing; a deleted rule
        is gone (``RuleNotFound``); a completed one can be deleted only."""
        now = datetime.now(UTC)
        async with self.connection() as conn, conn.transaction():
            current = await self._get(conn, rule_id, lock=True)
            if current.status == "deleted":
                raise RuleNotFound(rule_id)
            if current.status == status:
                return current, False
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET status = %s, status_reason = %s, consecutive_errors = 0,"
                    " updated_at = %s, updated_by = %s WHERE rule_id = %s"
                ).format(self._t("rules")),
                (status, reason, now, actor, rule_id),
            )
            change = {"active": "resumed", "paused": "paused", "deleted": "deleted"}[status]
            await self._change(
                conn, rule_id, current.account_id, current.version, change, actor, reason
            )
            entry = await self.audit().append(
                conn,
                actor=actor,
                action=f"rule.{'resume' if status == 'active' else status.removesuffix('d')}",
                subject=rule_id,
                details={"account": current.account_id, "version": str(current.version)},
            )
            record = await self._get(conn, rule_id)
        await self._after_commit([entry])
        return record, True

    async def get(self, rule_id: str) -> RuleRecord:
        async with self.connection() as conn:
            return await self._get(conn, rule_id)

    async def rules(
        self, accounts: Iterable[str] | None, include_deleted: bool = False, limit: int = 500
    ) -> list[RuleRecord]:
        """Rules of ``accounts`` (None: every account), newest first."""
        where = [sql.SQL("TRUE")]
        params: list[Any] = []
        if accounts is not None:
            where.append(sql.SQL("account_id = ANY(%s)"))
            params.append(list(accounts))
        if not include_deleted:
            where.append(sql.SQL("status <> 'deleted'"))
        async with self.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL("SELECT * FROM {} WHERE {} ORDER BY created_at DESC LIMIT %s").format(
                    self._t("rules"), sql.SQL(" AND ").join(where)
                ),
                [*params, limit],
            )
            return [_record(row) for row in await cur.fetchall()]

    async def paper_fills(self, rule_id: str, limit: int = 100) -> list[dict[str, Any]]:
        async with self.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL(
                    "SELECT * FROM {} WHERE rule_id = %s ORDER BY fired_at DESC LIMIT %s"
                ).format(self._t("paper_fills")),
                (rule_id, limit),
            )
            return list(await cur.fetchall())

    async def firings(self, rule_id: str, limit: int = 100) -> list[Firing]:
        async with self.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL(
                    "SELECT * FROM {} WHERE rule_id = %s ORDER BY fired_at DESC LIMIT %s"
                ).format(self._t("firings")),
                (rule_id, limit),
            )
            firings = [_firing(row) for row in await cur.fetchall()]
            orders = await self._executions(conn, [f.firing_id for f in firings])
        return [dataclasses.replace(f, orders=orders.get(f.firing_id, ())) for f in firings]

    # -- executions (orders.events.v1) ----------------------------------------------------------

    async def record_execution(self, e: Execution) -> bool:
        """Keep an order of a firing as its event says, unless a newer version is kept already
        (or the firing is not this service's: another platform's rule with the same prefix).
        An order first seen denied by order management's risk checks counts as an error of its
        rule (``max_consecutive_errors`` in a row pause it, as its own refusals do); one first
        seen going ahead ends the run."""
        entries: list[AuditEntry] = []
        async with self.connection() as conn, conn.transaction():
            cur = await conn.execute(
                sql.SQL(
                    "INSERT INTO {executions} (order_id, firing_id, idempotency_key, account_id,"
                    " exchange, symbol, side, state, filled_quantity, average_price, reason,"
                    " version, updated_at)"
                    " SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s"
                    " WHERE EXISTS (SELECT 1 FROM {firings} WHERE firing_id = %s)"
                    " ON CONFLICT (order_id) DO UPDATE SET state = EXCLUDED.state,"
                    " filled_quantity = EXCLUDED.filled_quantity,"
                    " average_price = EXCLUDED.average_price, reason = EXCLUDED.reason,"
                    " version = EXCLUDED.version, updated_at = EXCLUDED.updated_at"
                    " WHERE {executions}.version < EXCLUDED.version"
                    " RETURNING (xmax = 0) AS inserted"
                ).format(executions=self._t("executions"), firings=self._t("firings")),
                (
                    e.order_id,
                    e.firing_id,
                    e.idempotency_key,
                    e.account_id,
                    e.exchange,
                    e.symbol,
                    e.side,
                    e.state,
                    e.filled_quantity,
                    e.average_price,
                    e.reason,
                    e.version,
                    e.updated_at,
                    e.firing_id,
                ),
            )
            row = await cur.fetchone()
            if row is not None and row[0]:
                entries += await self._order_outcome(conn, e)
        await self._after_commit(entries)
        return row is not None

    async def _order_outcome(self, conn: AsyncConnection[Any], e: Execution) -> list[AuditEntry]:
        """A firing's order first seen: a denial counts toward the rule's self-pause, anything
        else ends the run of errors."""
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            sql.SQL(
                "SELECT r.rule_id::text, r.account_id, r.version, r.status, r.consecutive_errors"
                " FROM {} r JOIN {} f ON f.rule_id = r.rule_id WHERE f.firing_id = %s"
                " FOR UPDATE OF r"
            ).format(self._t("rules"), self._t("firings")),
            (e.firing_id,),
        )
        rule = await cur.fetchone()
        if rule is None or rule["status"] != "active":
            return []
        denied = e.state == "denied"
        errors = int(rule["consecutive_errors"]) + 1 if denied else 0
        await conn.execute(
            sql.SQL("UPDATE {} SET consecutive_errors = %s WHERE rule_id = %s").format(
                self._t("rules")
            ),
            (errors, rule["rule_id"]),
        )
        if not denied or errors < self.max_consecutive_errors:
            return []
        reason = f"{errors} consecutive errors, the last: denied by order management ({e.reason})"
        return [
            await self._service_status(
                conn,
                rule["rule_id"],
                rule["account_id"],
                int(rule["version"]),
                "paused",
                reason[:500],
                f"{rule['rule_id']}:{rule['version']}:paused:{e.order_id}",
            )
        ]

    async def _executions(
        self, conn: AsyncConnection[Any], firing_ids: list[str]
    ) -> dict[str, tuple[Execution, ...]]:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            sql.SQL(
                "SELECT * FROM {} WHERE firing_id = ANY(%s) ORDER BY idempotency_key, order_id"
            ).format(self._t("executions")),
            (firing_ids,),
        )
        out: dict[str, list[Execution]] = {}
        for row in await cur.fetchall():
            out.setdefault(row["firing_id"], []).append(Execution(**row))
        return {k: tuple(v) for k, v in out.items()}

    # -- evaluation -----------------------------------------------------------------------------

    async def active_rules(self, owned: Callable[[str], bool]) -> list[CompiledRule]:
        """Every active rule of the accounts ``owned`` says are this instance's, with its state."""
        async with self.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL(
                    "SELECT r.*, s.level, s.trigger_seq, s.last_instant, s.last_fired_at"
                    " FROM {} r JOIN {} s ON s.rule_id = r.rule_id AND s.version = r.version"
                    " WHERE r.status = 'active'"
                ).format(self._t("rules"), self._t("rule_state"))
            )
            rows = await cur.fetchall()
        return [_compiled(row) for row in rows if owned(row["account_id"])]

    async def rule_for_evaluation(self, rule_id: str) -> CompiledRule | None:
        """The rule as evaluation takes it, or None when it is not active."""
        async with self.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL(
                    "SELECT r.*, s.level, s.trigger_seq, s.last_instant, s.last_fired_at"
                    " FROM {} r JOIN {} s ON s.rule_id = r.rule_id AND s.version = r.version"
                    " WHERE r.rule_id = %s AND r.status = 'active'"
                ).format(self._t("rules"), self._t("rule_state")),
                (rule_id,),
            )
            row = await cur.fetchone()
        return None if row is None else _compiled(row)

    async def apply(
        self,
        t: Transition,
        reference_price: Decimal | None = None,
        paper: PaperFill | str | None = None,
    ) -> Applied:
        """Apply one transition the engine proposed (see the module docstring); ``locked``
        when its rule's row stayed locked past the lock timeout (nothing written)."""
        try:
            return await self._apply(t, reference_price, paper)
        except _RowLocked:
            return Applied("locked")

    async def _apply(
        self, t: Transition, reference_price: Decimal | None, paper: PaperFill | str | None
    ) -> Applied:
        rule = t.rule
        entries: list[AuditEntry] = []
        async with self.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            row = await self._lock_rule(conn, cur, rule.rule_id)
            if row is None or row["status"] != "active" or row["version"] != rule.version:
                return Applied("stale")
            await cur.execute(
                sql.SQL(
                    "SELECT level, trigger_seq, last_instant FROM {}"
                    " WHERE rule_id = %s AND version = %s"
                ).format(self._t("rule_state")),
                rule.key,
            )
            state = await cur.fetchone()
            assert state is not None
            scheduled = rule.schedule is not None
            if scheduled:
                if state["last_instant"] is not None and state["last_instant"] >= t.at:
                    return Applied("conflict")
            elif state["level"] is not t.previous:
                return Applied("conflict")
            if not t.fires:
                await conn.execute(
                    sql.SQL(
                        "UPDATE {} SET level = %s, last_instant = %s, updated_at = now()"
                        " WHERE rule_id = %s AND version = %s"
                    ).format(self._t("rule_state")),
                    (t.level, t.at if scheduled else state["last_instant"], *rule.key),
                )
                return Applied("applied")
            seq = int(state["trigger_seq"]) + 1
            trigger = t.trigger if scheduled else f"e{seq}"
            firing, status, reason = await self._fire(
                conn, rule, row, trigger, t.at, reference_price, paper
            )
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET level = %s, trigger_seq = %s, last_instant = %s,"
                    " last_fired_at = %s, updated_at = now() WHERE rule_id = %s AND version = %s"
                ).format(self._t("rule_state")),
                (
                    t.level,
                    seq,
                    t.at if scheduled else state["last_instant"],
                    firing.fired_at,
                    *rule.key,
                ),
            )
            entries.append(
                await self.audit().append(
                    conn,
                    actor=SERVICE_ACTOR,
                    action="rule.fire",
                    subject=rule.rule_id,
                    outcome="denied" if firing.outcome in ("refused", "error") else "success",
                    details={
                        "account": rule.account_id,
                        "firing": firing.firing_id,
                        "outcome": firing.outcome,
                        "reason": firing.reason,
                    },
                )
            )
            if status is not None:
                entries.append(
                    await self._service_status(
                        conn,
                        rule.rule_id,
                        rule.account_id,
                        rule.version,
                        status,
                        reason,
                        f"{rule.rule_id}:{rule.version}:paused:{seq}",
                    )
                )
        rule.trigger_seq = seq
        rule.last_fired_at = firing.fired_at
        await self._after_commit(entries)
        return Applied("fired", firing, status)

    async def _lock_rule(
        self, conn: AsyncConnection[Any], cur: Any, rule_id: str
    ) -> dict[str, Any] | None:
        """The rule's row, locked for the transaction, waiting at most the lock timeout."""
        if self.lock_timeout_ms:
            timeout = sql.Literal(f"{self.lock_timeout_ms}ms")
            await conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(timeout))
        try:
            await cur.execute(
                sql.SQL(
                    "SELECT status, version, consecutive_errors, firings FROM {}"
                    " WHERE rule_id = %s FOR UPDATE"
                ).format(self._t("rules")),
                (rule_id,),
            )
        except LockNotAvailable:
            raise _RowLocked(rule_id) from None
        if self.lock_timeout_ms:
            await conn.execute("SET LOCAL lock_timeout TO DEFAULT")
        row: dict[str, Any] | None = await cur.fetchone()
        return row

    async def _service_status(
        self,
        conn: AsyncConnection[Any],
        rule_id: str,
        account_id: str,
        version: int,
        status: Status,
        reason: str,
        event_id: str,
    ) -> AuditEntry:
        """The service pauses or completes a rule (in the caller's transaction): its status,
        the webhook of a pause (``event_id``: once per pause), the change for its holder, the
        audit entry (returned, to publish after the commit)."""
        await conn.execute(
            sql.SQL(
                "UPDATE {} SET status = %s, status_reason = %s, updated_at = now(),"
                " updated_by = %s WHERE rule_id = %s"
            ).format(self._t("rules")),
            (status, reason, SERVICE_ACTOR, rule_id),
        )
        if status == "paused":
            await webhooks.enqueue(
                conn,
                self.schema,
                account_id,
                "rule.paused",
                event_id,
                {"rule_id": rule_id, "account_id": account_id, "reason": reason},
            )
        change = "paused" if status == "paused" else "completed"
        await self._change(conn, rule_id, account_id, version, change, SERVICE_ACTOR, reason)
        return await self.audit().append(
            conn,
            actor=SERVICE_ACTOR,
            action=f"rule.{'pause' if status == 'paused' else 'complete'}",
            subject=rule_id,
            details={"account": account_id, "reason": reason},
        )

    async def _fire(
        self,
        conn: AsyncConnection[Any],
        rule: CompiledRule,
        row: dict[str, Any],
        trigger: str,
        at: datetime,
        reference_price: Decimal | None,
        paper: PaperFill | str | None = None,
    ) -> tuple[Firing, Status | None, str]:
        """Insert the firing (and its command) under the rule's lock; the rule's new status
        when this firing pauses or completes it."""
        action = rule.definition.action
        limits = rule.definition.limits
        firing_id = f"{rule.rule_id}:{rule.version}:{trigger}"
        now = datetime.now(UTC)
        outcome: Literal["command", "alert", "refused", "error", "schedule", "paper"] = (
            "alert" if isinstance(action, AlertAction) else "command"
        )
        reason = ""
        notional: Decimal | None = None
        if isinstance(action, SlicedAction):
            outcome = "schedule"
        if isinstance(action, PlaceOrderAction | OrderListAction | SlicedAction):
            notional = _notional(action, reference_price)
            if notional is None and (limits.max_notional_per_firing or limits.max_notional_per_day):
                outcome, reason = "error", "notional unknown: no price of the market seen yet"
            elif (
                notional is not None
                and limits.max_notional_per_firing is not None
                and (notional > limits.max_notional_per_firing)
            ):
                outcome, reason = "refused", "max_notional_per_firing"
            elif notional is not None and limits.max_notional_per_day is not None:
                cur = await conn.execute(
                    sql.SQL(
                        "SELECT COALESCE(sum(notional), 0) FROM {} WHERE rule_id = %s"
                        " AND outcome = 'command'"
                        " AND fired_at >= date_trunc('day', %s AT TIME ZONE 'UTC')"
                        " AT TIME ZONE 'UTC'"
                    ).format(self._t("firings")),
                    (rule.rule_id, now),
                )
                spent = (await cur.fetchone() or (Decimal(0),))[0]
                if Decimal(spent) + notional > limits.max_notional_per_day:
                    outcome, reason = "refused", "max_notional_per_day"
        if rule.definition.paper and outcome == "command":
            # simulated, never sent: the fill (or why there is none) comes with the transition
            if isinstance(paper, PaperFill):
                outcome = "paper"
            else:
                outcome, reason = "error", paper or "paper fill not simulated"
        sent = outcome == "command" and not isinstance(action, AlertAction)
        cid = str(command_id(firing_id)) if sent else None
        await conn.execute(
            sql.SQL(
                "INSERT INTO {} (firing_id, rule_id, version, account_id, trigger, fired_at,"
                " action, outcome, reason, notional, command_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ).format(self._t("firings")),
            (
                firing_id,
                rule.rule_id,
                rule.version,
                rule.account_id,
                trigger,
                now,
                action.type,
                outcome,
                reason,
                notional,
                cid,
            ),
        )
        await webhooks.enqueue(
            conn,
            self.schema,
            rule.account_id,
            "rule.fired",
            firing_id,
            {
                "rule_id": rule.rule_id,
                "version": rule.version,
                "account_id": rule.account_id,
                "trigger": trigger,
                "outcome": outcome,
                "reason": reason,
                "notional": None if notional is None else str(notional),
            },
        )
        if outcome == "paper":
            assert isinstance(paper, PaperFill)
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (firing_id, rule_id, account_id, exchange, symbol, side,"
                    " filled_size, filled_notional, average_price, fee, slippage_vs_mid_bps,"
                    " complete, fired_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                    " %s, %s)"
                ).format(self._t("paper_fills")),
                (
                    firing_id,
                    rule.rule_id,
                    rule.account_id,
                    paper.exchange,
                    paper.symbol,
                    paper.side,
                    paper.filled_size,
                    paper.filled_notional,
                    paper.average_price,
                    paper.fee,
                    paper.slippage_vs_mid_bps,
                    paper.complete,
                    now,
                ),
            )
        if outcome == "schedule":
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (firing_id, rule_id, account_id, action, started_at, status)"
                    " VALUES (%s, %s, %s, %s, %s, 'running')"
                ).format(self._t("schedules")),
                (firing_id, rule.rule_id, rule.account_id, action.model_dump_json(), now),
            )
        if sent:
            assert isinstance(action, CommandAction)
            command = order_command(firing_id, rule.account_id, rule.rule_id, action, now)
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (firing_id, account_id, payload) VALUES (%s, %s, %s)"
                ).format(self._t("command_outbox")),
                (firing_id, rule.account_id, command.SerializeToString()),
            )
        ok = outcome in ("command", "alert", "schedule", "paper")
        errors = 0 if ok else int(row["consecutive_errors"]) + 1
        if outcome == "command":
            # sent, not done: order management's answer (an order accepted or denied by its
            # risk checks, record_execution) resets or counts the run of errors
            errors = int(row["consecutive_errors"])
        firings = int(row["firings"]) + (1 if ok else 0)
        await conn.execute(
            sql.SQL(
                "UPDATE {} SET consecutive_errors = %s, firings = %s WHERE rule_id = %s"
            ).format(self._t("rules")),
            (errors, firings, rule.rule_id),
        )
        status: Status | None = None
        status_reason = ""
        if errors >= self.max_consecutive_errors:
            status = "paused"
            status_reason = f"{errors} consecutive errors, the last: {reason}"
        elif limits.max_firings is not None and firings >= limits.max_firings:
            status, status_reason = "completed", f"max_firings ({limits.max_firings}) reached"
        firing = Firing(
            firing_id,
            rule.rule_id,
            rule.version,
            rule.account_id,
            trigger,
            now,
            action.type,
            outcome,
            reason,
            notional,
            cid,
        )
        return firing, status, status_reason

    # -- schedules (TWAP) -----------------------------------------------------------------------

    async def running_schedules(self, owned: Callable[[str], bool]) -> list[Schedule]:
        async with self.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                # a paused rule holds its schedules; resumed, they catch up a slice a tick
                sql.SQL(
                    "SELECT s.* FROM {} s JOIN {} r ON r.rule_id = s.rule_id"
                    " WHERE s.status = 'running' AND r.status = 'active' ORDER BY s.started_at"
                ).format(self._t("schedules"), self._t("rules"))
            )
            rows = await cur.fetchall()
        return [_schedule(r) for r in rows if owned(r["account_id"])]

    async def set_weights(
        self, schedule: Schedule, weights: list[Decimal], profile: str
    ) -> list[Decimal]:
        """Fix the schedule's slice weights unless another instance did first; the stored
        ones (every instance cuts the same slices)."""
        async with self.connection() as conn, conn.transaction():
            await conn.execute(
                sql.SQL(
                    "UPDATE {} SET weights = %s, profile = %s, updated_at = now()"
                    " WHERE firing_id = %s AND weights IS NULL"
                ).format(self._t("schedules")),
                (json.dumps([str(w) for w in weights]), profile, schedule.firing_id),
            )
            cur = await conn.execute(
                sql.SQL("SELECT weights, profile FROM {} WHERE firing_id = %s").format(
                    self._t("schedules")
                ),
                (schedule.firing_id,),
            )
            row = await cur.fetchone()
        assert row is not None
        schedule.weights = [Decimal(w) for w in row[0]]
        schedule.profile = row[1]
        return schedule.weights

    async def send_slice(
        self, schedule: Schedule, quantity: Decimal, shortfall: Decimal | None = None
    ) -> bool:
        """Slice ``schedule.next_slice`` of ``quantity`` (0: nothing sent, the cap held it back),
        if no one sent it yet (compare-and-set on the slice number); the last one closes the
        schedule with its ``shortfall``."""
        index = schedule.next_slice
        last = index + 1 >= schedule.action.slices
        key = f"{schedule.firing_id}/{index}"
        async with self.connection() as conn, conn.transaction():
            cur = await conn.execute(
                sql.SQL(
                    "UPDATE {} SET next_slice = next_slice + 1,"
                    " done_quantity = done_quantity + %s, status = %s, shortfall = %s,"
                    " updated_at = now()"
                    " WHERE firing_id = %s AND next_slice = %s AND status = 'running'"
                ).format(self._t("schedules")),
                (quantity, "done" if last else "running", shortfall, schedule.firing_id, index),
            )
            if cur.rowcount != 1:
                return False
            if quantity > 0:
                a = schedule.action
                child = PlaceOrderAction(
                    type="place_order",
                    exchange=a.exchange,
                    symbol=a.symbol,
                    side=a.side,
                    order_type="market",
                    quantity=quantity,
                )
                command = order_command(
                    key, schedule.account_id, schedule.rule_id, child, datetime.now(UTC)
                )
                await conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (firing_id, account_id, payload) VALUES (%s, %s, %s)"
                    ).format(self._t("command_outbox")),
                    (key, schedule.account_id, command.SerializeToString()),
                )
        schedule.next_slice += 1
        schedule.done_quantity += quantity
        return True

    # -- outboxes -------------------------------------------------------------------------------

    async def relay_commands(self, batch: int = 100) -> int:
        """Publish pending commands in order (key: account), stamp them once acknowledged.
        Raises when Kafka fails: the rows stay pending and the next call sends them again,
        with the same idempotency keys."""
        return await self._relay(
            "command_outbox", self.commands_topic, orders_pb2.OrderCommand, batch
        )

    async def relay_changes(self, batch: int = 100) -> int:
        return await self._relay(
            "change_outbox", self.rules_topic, automation_pb2.RuleChange, batch
        )

    async def relay_outbox(
        self, table: str, topic: TopicSpec, payload: Any, batch: int = 100
    ) -> int:
        """Publish the pending rows of another outbox of the schema (columns ``id``,
        ``account_id``, ``payload``, ``published_at``; key account), as the two above are."""
        return await self._relay(table, topic, payload, batch)

    async def _relay(self, table: str, topic: TopicSpec, payload: Any, batch: int) -> int:
        producer = self._producer()
        if producer is None:
            return 0
        async with self.connection() as conn, conn.transaction():
            cur = await conn.execute(
                sql.SQL(
                    "SELECT id, account_id, payload FROM {} WHERE published_at IS NULL"
                    " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"
                ).format(self._t(table)),
                (batch,),
            )
            rows = await cur.fetchall()
            for _, account, body in rows:
                await producer.publish(topic, record_key(account), payload.FromString(body))
            if rows:
                await conn.execute(
                    sql.SQL("UPDATE {} SET published_at = now() WHERE id = ANY(%s)").format(
                        self._t(table)
                    ),
                    ([r[0] for r in rows],),
                )
        return len(rows)

    async def _after_commit(self, entries: list[AuditEntry]) -> None:
        """Best effort right after the commit; the service's relay loop catches up."""
        try:
            await self.audit().publish(entries)
            await self.relay_changes()
        except Exception:  # noqa: S110 - the relay loop retries; the rows are the record
            pass

    # -- helpers --------------------------------------------------------------------------------

    async def _new_version(
        self,
        conn: AsyncConnection[Any],
        rule_id: str,
        version: int,
        body: str,
        now: datetime,
        actor: str,
    ) -> None:
        await conn.execute(
            sql.SQL(
                "INSERT INTO {} (rule_id, version, definition, created_at, created_by)"
                " VALUES (%s, %s, %s, %s, %s)"
            ).format(self._t("rule_versions")),
            (rule_id, version, body, now, actor),
        )
        await conn.execute(
            sql.SQL("INSERT INTO {} (rule_id, version) VALUES (%s, %s)").format(
                self._t("rule_state")
            ),
            (rule_id, version),
        )

    async def _change(
        self,
        conn: AsyncConnection[Any],
        rule_id: str,
        account_id: str,
        version: int,
        action: str,
        actor: str,
        reason: str = "",
    ) -> None:
        now = Timestamp()
        now.FromDatetime(datetime.now(UTC))
        message = automation_pb2.RuleChange(
            rule_id=rule_id,
            account_id=account_id,
            version=version,
            action=_ACTIONS[action],
            actor=actor,
            reason=reason,
            time=now,
        )
        await conn.execute(
            sql.SQL("INSERT INTO {} (account_id, payload) VALUES (%s, %s)").format(
                self._t("change_outbox")
            ),
            (account_id, message.SerializeToString()),
        )

    async def _get(
        self, conn: AsyncConnection[Any], rule_id: str, lock: bool = False
    ) -> RuleRecord:
        try:
            uuid.UUID(rule_id)
        except ValueError:
            raise RuleNotFound(rule_id) from None
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            sql.SQL("SELECT * FROM {} WHERE rule_id = %s" + (" FOR UPDATE" if lock else "")).format(
                self._t("rules")
            ),
            (rule_id,),
        )
        row = await cur.fetchone()
        if row is None:
            raise RuleNotFound(rule_id)
        return _record(row)


def _notional(
    action: PlaceOrderAction | OrderListAction | SlicedAction, reference: Decimal | None
) -> Decimal | None:
    if isinstance(action, PlaceOrderAction) and action.quote_quantity is not None:
        return action.quote_quantity
    assert action.quantity is not None
    if isinstance(action, SlicedAction):
        return None if reference is None else action.quantity * reference
    if isinstance(action, OrderListAction):
        # an OCO sells (or buys) at its limit at best; a bracket is its entry
        entry = action.price if action.list_type == "oco" else action.entry_price or reference
        return None if entry is None else action.quantity * entry
    price = action.price or action.stop_price or reference
    return None if price is None else action.quantity * price


def _definition(value: Any) -> RuleDefinition:
    return RuleDefinition.model_validate(value if isinstance(value, dict) else json.loads(value))


def _record(row: dict[str, Any]) -> RuleRecord:
    return RuleRecord(
        rule_id=str(row["rule_id"]),
        account_id=row["account_id"],
        name=row["name"],
        version=int(row["version"]),
        definition=_definition(row["definition"]),
        status=row["status"],
        status_reason=row["status_reason"],
        consecutive_errors=int(row["consecutive_errors"]),
        firings=int(row["firings"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
    )


def _compiled(row: dict[str, Any]) -> CompiledRule:
    return CompiledRule(
        rule_id=str(row["rule_id"]),
        version=int(row["version"]),
        account_id=row["account_id"],
        definition=_definition(row["definition"]),
        level=row["level"],
        trigger_seq=int(row["trigger_seq"]),
        last_instant=row["last_instant"],
        last_fired_at=row["last_fired_at"],
        created_at=row["created_at"],
    )


def _schedule(row: dict[str, Any]) -> Schedule:
    return Schedule(
        firing_id=row["firing_id"],
        rule_id=str(row["rule_id"]),
        account_id=row["account_id"],
        action=(VwapAction if row["action"]["type"] == "vwap" else TwapAction).model_validate(
            row["action"]
        ),
        started_at=row["started_at"],
        next_slice=int(row["next_slice"]),
        done_quantity=Decimal(row["done_quantity"]),
        weights=None if row["weights"] is None else [Decimal(w) for w in row["weights"]],
        profile=row["profile"],
    )


def _firing(row: dict[str, Any]) -> Firing:
    return Firing(
        firing_id=row["firing_id"],
        rule_id=str(row["rule_id"]),
        version=int(row["version"]),
        account_id=row["account_id"],
        trigger=row["trigger"],
        fired_at=row["fired_at"],
        action=row["action"],
        outcome=row["outcome"],
        reason=row["reason"],
        notional=row["notional"],
        command_id=None if row["command_id"] is None else str(row["command_id"]),
    )
