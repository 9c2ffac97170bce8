"""Kraken WebSocket v2 authenticated endpoint (``/kraken/v2-auth``, real
``wss://ws-auth.kraken.com/v2``): the ``executions`` and ``balances`` channels and trading
(``add_order``, ``cancel_order``, ``cancel_all``), each request carrying a token from REST
``GetWebSocketsToken``.

- A token must be fresh (15 minutes) when first used; once a socket used it, that socket keeps
  it. The first token fixes the socket's account.
- ``executions``: a snapshot (open orders with ``snap_orders``, the last 50 fills with
  ``snap_trades``), then one message per execution event, each with the connection's next
  ``sequence``: ``pending_new`` (every field) and ``new`` for an accepted order (only ``new``,
  with every field, when ``order_status`` is false), ``trade`` per fill, ``filled`` when it
  completes, ``canceled`` / ``expired``. Events of one exchange operation are sent on the next
  event-loop turn, by which time the order's Kraken record (``cl_ord_id``, ``userref``) exists.
- ``balances``: a snapshot of every asset's total, then ledger-like updates for each asset whose
  total changed (a reservation moves nothing between totals, so it sends nothing, as on Kraken).
- Numbers are JSON number literals written from exact decimals (wire.Num).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from starlette.websockets import WebSocket

from eip.exchange_simulator.core.accounts import Permission
from eip.exchange_simulator.core.engine import OrderUpdate
from eip.exchange_simulator.core.exchange import BalanceChange
from eip.exchange_simulator.core.orders import ExecType
from eip.exchange_simulator.kraken import errors, names, trading, wire
from eip.exchange_simulator.kraken.dialect import VENUE, KrakenDialect
from eip.exchange_simulator.kraken.errors import KrakenError
from eip.exchange_simulator.kraken.executions import ExecutionReports
from eip.exchange_simulator.kraken.ids import encode, order_txid
from eip.exchange_simulator.kraken.next_turn import NextTurn
from eip.exchange_simulator.kraken.order_params import (
    parse_amendment,
    parse_new_order,
    v2_fields,
)
from eip.exchange_simulator.kraken.wire import Num
from eip.exchange_simulator.ws_session import WsSession

TRADE_SNAPSHOT = 50
ZERO = Decimal(0)
HEARTBEAT = wire.dumps({"channel": "heartbeat"})


@dataclass
class Executions:
    order_status: bool  # every status transition, or only open / close ones


@dataclass(eq=False)
class PrivateConnection:
    session: WsSession
    connection_id: int
    account_id: str | None = None
    tokens: set[str] = field(default_factory=set)
    executions: Executions | None = None
    balances: bool = False
    exec_sequence: int = 0
    balance_sequence: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)  # balances last sent

    @property
    def subscribed(self) -> bool:
        return self.executions is not None or self.balances


class KrakenPrivateStreams:
    def __init__(self, dialect: KrakenDialect) -> None:
        self.dialect = dialect
        self.exchange = dialect.exchange
        self.connections: set[PrivateConnection] = set()
        self._orders: list[OrderUpdate] = []
        self._balances: list[BalanceChange] = []
        self._traded: set[str] = set()  # accounts whose next balance change came from a fill
        self._next_turn = NextTurn(self.flush)
        self._listeners: set[str] = set()  # accounts some connection subscribed for
        self.reports = ExecutionReports(dialect)
        self._ledger_ids = 0
        self.exchange.listeners.order.append(self._on_order)
        self.exchange.listeners.balance.append(self._on_balance)
        dialect.faults.on_drop(VENUE, self.drop)

    def _listening(self, account_id: str) -> bool:
        return account_id in self._listeners

    def _subscriptions_changed(self) -> None:
        """The market's own accounts make most events: they are dropped with one set lookup."""
        self._listeners = {
            c.account_id for c in self.connections if c.subscribed and c.account_id is not None
        }

    # -- events --------------------------------------------------------------------------------

    def _on_order(self, account_id: str, update: OrderUpdate) -> None:
        if self._listening(account_id):
            self._orders.append(update)
            self._next_turn.request()

    def _on_balance(self, change: BalanceChange) -> None:
        if self._listening(change.account_id):
            self._balances.append(change)
            self._next_turn.request()

    def flush(self) -> None:
        orders, self._orders = self._orders, []
        balances, self._balances = self._balances, []
        for update in orders:
            account_id = update.order.account_id
            if update.exec_type is ExecType.TRADE:
                self._traded.add(account_id)
            for conn in self._subscribed(account_id, executions=True):
                assert conn.executions is not None
                for item in self.reports.items(update, conn.executions.order_status):
                    self._send_execution(conn, "update", [item])
        for change in balances:
            kind = "trade" if change.account_id in self._traded else "deposit"
            self._traded.discard(change.account_id)
            for conn in self._subscribed(change.account_id, executions=False):
                self._send_balance_update(conn, change, kind)

    def _subscribed(self, account_id: str, executions: bool) -> list[PrivateConnection]:
        return [
            c
            for c in self.connections
            if c.account_id == account_id
            and (c.executions is not None if executions else c.balances)
        ]

    # -- executions ----------------------------------------------------------------------------

    def _send_execution(self, conn: PrivateConnection, kind: str, data: list[Any]) -> None:
        conn.exec_sequence += 1
        conn.session.push(
            wire.encode(
                {
                    "channel": "executions",
                    "type": kind,
                    "data": data,
                    "sequence": conn.exec_sequence,
                }
            )
        )

    def _executions_snapshot(self, conn: PrivateConnection, orders: bool, trades: bool) -> None:
        assert conn.account_id is not None
        data: list[Any] = []
        if orders:
            data.extend(
                self.reports.open_order(o) for o in self.exchange.open_orders(conn.account_id)
            )
        if trades:
            fills = [
                (o, f)
                for o in self.exchange.orders.values()
                if o.account_id == conn.account_id
                for f in o.fills
            ]
            fills.sort(key=lambda row: (row[1].time_ms, row[1].trade_id))
            data.extend(self.reports.trade(o, f) for o, f in fills[-TRADE_SNAPSHOT:])
        self._send_execution(conn, "snapshot", data)

    # -- balances ------------------------------------------------------------------------------

    def _totals(self, account_id: str) -> dict[str, Decimal]:
        account = self.exchange.accounts[account_id]
        return {code: bal.total for code, bal in account.balances.items()}

    def _send_balance(self, conn: PrivateConnection, kind: str, data: list[Any]) -> None:
        conn.balance_sequence += 1
        conn.session.push(
            wire.encode(
                {
                    "channel": "balances",
                    "type": kind,
                    "data": data,
                    "sequence": conn.balance_sequence,
                }
            )
        )

    def _balances_snapshot(self, conn: PrivateConnection) -> None:
        assert conn.account_id is not None
        conn.totals = self._totals(conn.account_id)
        data = [
            {
                "asset": code,
                "asset_class": "currency",
                "balance": Num(total, names.decimals(code)[0]),
                "wallets": [
                    {"type": "spot", "id": "main", "balance": Num(total, names.decimals(code)[0])}
                ],
            }
            for code, total in sorted(conn.totals.items())
        ]
        self._send_balance(conn, "snapshot", data)

    def _send_balance_update(
        self, conn: PrivateConnection, change: BalanceChange, kind: str
    ) -> None:
        data = []
        for code, free, locked in change.balances:
            total = free + locked
            before = conn.totals.get(code, ZERO)
            if total == before:
                continue
            conn.totals[code] = total
            self._ledger_ids += 1
            places = names.decimals(code)[0]
            data.append(
                {
                    "ledger_id": encode("ledger", self._ledger_ids),
                    "ref_id": encode("reference", self._ledger_ids),
                    "timestamp": wire.timestamp(change.time_ms),
                    "type": kind,
                    "asset": code,
                    "asset_class": "currency",
                    "category": kind,
                    "wallet_type": "spot",
                    "wallet_id": "main",
                    "amount": Num(total - before, places),
                    "fee": Num(ZERO, places),
                    "balance": Num(total, places),
                }
            )
        if data:
            self._send_balance(conn, "update", data)

    # -- connections ---------------------------------------------------------------------------

    async def serve(self, ws: WebSocket) -> None:
        conn = PrivateConnection(WsSession(ws, self.dialect.faults, VENUE), secrets.randbits(62))
        self.connections.add(conn)
        conn.session.push(wire.status_message(conn.connection_id))
        try:
            await conn.session.run(lambda text: self._handle(conn, text))
        finally:
            self.connections.discard(conn)
            self._subscriptions_changed()

    def heartbeat(self) -> None:
        for conn in list(self.connections):
            if conn.subscribed:
                conn.session.push(HEARTBEAT)

    def drop(self, stream_filter: str | None) -> int:
        """Close private sockets: all, or those matching ``kraken``, ``kraken-auth``,
        ``userData`` (every dialect's private streams) or a channel they carry."""
        dropped = 0
        for conn in list(self.connections):
            carried = {"kraken", "kraken-auth", "userdata"}
            if conn.executions is not None:
                carried.add("executions")
            if conn.balances:
                carried.add("balances")
            if stream_filter is None or stream_filter.lower() in carried:
                conn.session.drop()
                dropped += 1
        return dropped

    # -- requests ------------------------------------------------------------------------------

    def _reply(self, body: dict[str, Any], time_in: str, ok: bool | None) -> str:
        return wire.reply(body, time_in, self.exchange.now_ms(), ok)

    def _handle(self, conn: PrivateConnection, text: str) -> None:
        time_in = wire.timestamp(self.exchange.now_ms())
        try:
            request = json.loads(text, parse_float=Decimal)
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            conn.session.push(self._reply({"error": errors.INVALID_ARGUMENTS}, time_in, False))
            return
        method, req_id = request.get("method"), request.get("req_id")
        head: dict[str, Any] = {"method": method}
        if req_id is not None:
            head["req_id"] = req_id
        params = request.get("params") or {}
        try:
            if method == "ping":
                conn.session.push(self._reply({**head, "method": "pong"}, time_in, ok=None))
                return
            if not isinstance(params, dict):
                raise errors.invalid("params")
            handler = {
                "subscribe": self._subscribe,
                "unsubscribe": self._unsubscribe,
                "add_order": self._add_order,
                "amend_order": self._amend_order,
                "cancel_order": self._cancel_order,
                "cancel_all": self._cancel_all,
            }.get(method if isinstance(method, str) else "")
            if handler is None:
                raise KrakenError(f"Method not found: {method}")
            for body in handler(conn, params):
                conn.session.push(self._reply({**head, **body}, time_in, ok="error" not in body))
        except KrakenError as exc:
            conn.session.push(self._reply({"error": exc.text, **head}, time_in, ok=False))

    def _authorize(self, conn: PrivateConnection, params: dict[str, Any], trade: bool) -> str:
        token = params.get("token")
        now = self.exchange.now_ms()
        account_id = (
            conn.account_id
            if isinstance(token, str) and token in conn.tokens
            else self.dialect.token_account(token, now)
        )
        if account_id is None or (conn.account_id not in (None, account_id)):
            raise KrakenError(errors.INVALID_SESSION)
        assert isinstance(token, str)
        entry = self.dialect.tokens.get(token)
        key = self.exchange.key_for(entry.key, VENUE) if entry is not None else None
        if key is None:
            raise KrakenError(errors.INVALID_SESSION)
        if trade and Permission.TRADE not in key.permissions:
            raise KrakenError(errors.PERMISSION_DENIED)
        conn.account_id = account_id
        conn.tokens.add(token)
        return account_id

    def _flag(self, params: dict[str, Any], name: str, default: bool) -> bool:
        value = params.get(name, default)
        if not isinstance(value, bool):
            raise errors.invalid(name)
        return value

    def _subscribe(self, conn: PrivateConnection, params: dict[str, Any]) -> list[dict[str, Any]]:
        channel = params.get("channel")
        if channel not in ("executions", "balances"):
            raise KrakenError(f"Channel not supported by the simulator: {channel}")
        self._authorize(conn, params, trade=False)
        if channel == "executions":
            if conn.executions is not None:
                raise KrakenError("Already subscribed")
            snap_orders = self._flag(params, "snap_orders", True)
            snap_trades = self._flag(params, "snap_trades", False)
            if "snapshot" in params:  # the deprecated switch for both
                snap_orders = snap_trades = self._flag(params, "snapshot", True)
            conn.executions = Executions(self._flag(params, "order_status", True))
            self._subscriptions_changed()
            self._executions_snapshot(conn, snap_orders, snap_trades)
            result = {
                "channel": "executions",
                "maxratecount": int(self.dialect.limiter.limits.order_max),
                "snap_orders": snap_orders,
                "snap_trades": snap_trades,
            }
            return [{"result": result}]
        if conn.balances:
            raise KrakenError("Already subscribed")
        snapshot = self._flag(params, "snapshot", True)
        conn.balances = True
        self._subscriptions_changed()
        if snapshot:
            self._balances_snapshot(conn)
        else:
            conn.totals = self._totals(conn.account_id or "")
        return [{"result": {"channel": "balances", "snapshot": snapshot}}]

    def _unsubscribe(self, conn: PrivateConnection, params: dict[str, Any]) -> list[dict[str, Any]]:
        channel = params.get("channel")
        self._authorize(conn, params, trade=False)
        if channel == "executions" and conn.executions is not None:
            conn.executions = None
        elif channel == "balances" and conn.balances:
            conn.balances = False
        else:
            raise KrakenError("Subscription Not Found")
        self._subscriptions_changed()
        return [{"result": {"channel": channel}}]

    def _add_order(self, conn: PrivateConnection, params: dict[str, Any]) -> list[dict[str, Any]]:
        account_id = self._authorize(conn, params, trade=True)
        new = parse_new_order(v2_fields(params), account_id, self.dialect.pairs, self.exchange)
        order = trading.place(self.dialect, new, self.exchange.now_ms())
        result: dict[str, Any] = {}
        if order is not None:
            result["order_id"] = order_txid(order.order_id)
        if new.extras.cl_ord_id is not None:
            result["cl_ord_id"] = new.extras.cl_ord_id
        if new.extras.userref is not None:
            result["order_userref"] = new.extras.userref
        return [{"result": result}]

    def _amend_order(self, conn: PrivateConnection, params: dict[str, Any]) -> list[dict[str, Any]]:
        account_id = self._authorize(conn, params, trade=True)
        order_id, cl_ord_id = params.get("order_id"), params.get("cl_ord_id")
        ident = order_id if isinstance(order_id, str) else cl_ord_id
        found = trading.find_open(self.dialect, account_id, ident) if isinstance(ident, str) else []
        if len(found) != 1:
            raise KrakenError(errors.UNKNOWN_ORDER)
        order = found[0]
        change = parse_amendment(params, ident, self.dialect.pairs[order.symbol], self.exchange)
        amended = trading.amend(
            self.dialect,
            account_id,
            order,
            self.exchange.now_ms(),
            quantity=change.quantity,
            limit_price=change.limit_price,
            trigger_price=change.trigger_price,
            post_only=change.post_only,
        )
        result: dict[str, Any] = {"amend_id": amended, "order_id": order_txid(order.order_id)}
        cl_ord = self.dialect.extras_of(order).cl_ord_id
        if cl_ord is not None:
            result["cl_ord_id"] = cl_ord
        return [{"result": result}]

    def _cancel_order(
        self, conn: PrivateConnection, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        account_id = self._authorize(conn, params, trade=True)
        idents: list[str] = []
        for name in ("order_id", "cl_ord_id", "order_userref"):
            value = params.get(name)
            if value is None:
                continue
            if not isinstance(value, list) or not value:
                raise errors.invalid(name)
            idents.extend(str(v) for v in value)
        if not idents:
            raise errors.invalid("order_id")
        now = self.exchange.now_ms()
        replies: list[dict[str, Any]] = []
        for ident in idents:
            found = trading.find_open(self.dialect, account_id, ident)
            if not found:
                replies.append({"error": errors.UNKNOWN_ORDER})
            for order in found:
                trading.cancel(self.dialect, account_id, order, now)
                replies.append({"result": {"order_id": order_txid(order.order_id)}})
        return replies

    def _cancel_all(self, conn: PrivateConnection, params: dict[str, Any]) -> list[dict[str, Any]]:
        account_id = self._authorize(conn, params, trade=True)
        count = trading.cancel_all(self.dialect, account_id, self.exchange.now_ms())
        return [{"result": {"count": count}}]
