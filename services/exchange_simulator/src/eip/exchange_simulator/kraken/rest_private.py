"""Kraken spot private REST (``POST /0/private/<Method>``): balances, order entry and
cancellation, order and trade queries, and the WebSocket token — over the one account the
simulator keeps, shown under Kraken's asset and pair names."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eip.exchange_simulator.core.accounts import Permission
from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.orders import Fill, Order, Rejection, Side
from eip.exchange_simulator.kraken import errors, names, trading
from eip.exchange_simulator.kraken.dialect import TOKEN_TTL_MS, KrakenDialect
from eip.exchange_simulator.kraken.errors import KrakenError
from eip.exchange_simulator.kraken.ids import order_id_of, order_txid
from eip.exchange_simulator.kraken.order_params import (
    NewOrder,
    OrderFields,
    boolean,
    check_cl_ord_id,
    decimal,
    integer,
    parse_amendment,
    parse_new_order,
    rest_fields,
    text,
)
from eip.exchange_simulator.kraken.private_api import Endpoint, PrivateApi, PrivateCall
from eip.exchange_simulator.kraken.transfers import KrakenTransfers
from eip.exchange_simulator.kraken.views import description, order_json, trade_json

PAGE = 50
MAX_BATCH = 15
MAX_QUERY_ORDERS = 50
MAX_QUERY_TRADES = 20


def _ids(value: Any, name: str, limit: int) -> list[str]:
    raw = value if isinstance(value, list) else (text(value) or "").split(",")
    found = [str(v).strip() for v in raw if str(v).strip()]
    if not found or len(found) > limit:
        raise errors.invalid(name)
    return found


def _time_bound(call: PrivateCall, name: str) -> Decimal | None:
    raw = text(call.get(name))
    if raw is None:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise errors.invalid(name) from None


class PrivateEndpoints:
    """The methods, each a function of one authenticated call."""

    def __init__(self, dialect: KrakenDialect) -> None:
        self.dialect = dialect
        self.ex = dialect.exchange

    # -- balances and tokens -------------------------------------------------------------------

    def balance(self, call: PrivateCall) -> dict[str, str]:
        account = self.ex.accounts[call.account_id]
        return {
            names.asset_id(code): fixed(bal.total, names.decimals(code)[0])
            for code, bal in sorted(account.balances.items())
        }

    def balance_ex(self, call: PrivateCall) -> dict[str, dict[str, str]]:
        account = self.ex.accounts[call.account_id]
        out: dict[str, dict[str, str]] = {}
        for code, bal in sorted(account.balances.items()):
            places = names.decimals(code)[0]
            out[names.asset_id(code)] = {
                "balance": fixed(bal.total, places),
                "hold_trade": fixed(bal.locked, places),
                "credit": fixed(Decimal(0), places),
                "credit_used": fixed(Decimal(0), places),
            }
        return out

    def withdraw_methods(self, call: PrivateCall) -> list[dict[str, Any]]:
        """No funding is simulated: the method answers only whether the key may withdraw (a
        key without the permission is refused before this), as key validation asks it."""
        return []

    def websockets_token(self, call: PrivateCall) -> dict[str, Any]:
        token = self.dialect.issue_token(call.key, call.now_ms)
        return {"token": token, "expires": TOKEN_TTL_MS // 1000}

    # -- orders --------------------------------------------------------------------------------

    def _new_order(self, call: PrivateCall, fields: OrderFields) -> NewOrder:
        return parse_new_order(fields, call.account_id, self.dialect.pairs, self.ex)

    def _placed(self, new: NewOrder, order: Order | None, batch: bool = False) -> dict[str, Any]:
        """``AddOrder``'s answer (``txid`` a list), or one of ``AddOrderBatch`` (a string)."""
        if order is None:  # validate only: Kraken describes the order it would place
            return {"descr": {"order": description(new.request, new.pair, new.extras)}}
        txid = order_txid(order.order_id)
        return {
            "descr": {"order": description(order, new.pair, new.extras)},
            "txid": txid if batch else [txid],
        }

    def add_order(self, call: PrivateCall) -> dict[str, Any]:
        new = self._new_order(call, rest_fields(call.params))
        return self._placed(new, trading.place(self.dialect, new, call.now_ms))

    def add_order_batch(self, call: PrivateCall) -> dict[str, Any]:
        """2-15 orders of one pair: all are checked first (one bad order fails the batch), then
        placed in turn; an order the engine refuses answers with its error in its place."""
        raw_orders = call.get("orders")
        if not isinstance(raw_orders, list) or not 2 <= len(raw_orders) <= MAX_BATCH:
            raise errors.invalid("orders")
        pair = text(call.get("pair"))
        validate = boolean("validate", call.get("validate"))
        news: list[NewOrder] = []
        for raw in raw_orders:
            if not isinstance(raw, dict):
                raise errors.invalid("orders")
            fields = rest_fields({**raw, "pair": pair})
            fields.validate = validate
            new = self._new_order(call, fields)
            try:
                self.ex.check(new.request)
            except Rejection as exc:
                raise errors.from_rejection(exc) from None
            news.append(new)
        results: list[dict[str, Any]] = []
        for new in news:
            try:
                order = trading.place(self.dialect, new, call.now_ms)
                results.append(self._placed(new, order, batch=True))
            except KrakenError as exc:
                results.append({"error": exc.text})
        return {"orders": results}

    def edit_order(self, call: PrivateCall) -> dict[str, Any]:
        """The older edit: the order is cancelled and a new one placed with what changed (a new
        txid, queue priority lost). ``volume`` is the edited order's whole size: what the old
        one already filled counts towards it. The new order is checked before the old goes."""
        old = self._one_open(call, text(call.get("txid")))
        extras = self.dialect.extras_of(old)
        pair = self.dialect.pairs[old.symbol]
        given_pair = text(call.get("pair"))
        if given_pair is not None and self.dialect.pairs.find(given_pair) is not pair:
            raise errors.invalid("pair")
        total = decimal("volume", call.get("volume"))
        total = total if total is not None else old.quantity
        if total is None or total <= old.executed_qty:
            raise errors.invalid("volume")
        conditional = old.type.is_conditional
        first = old.stop_price if conditional else old.price
        second = old.price if conditional and old.type.has_limit_price else None
        flags = text(call.get("oflags"))
        fields = OrderFields(
            pair=pair.altname,
            side="buy" if old.side is Side.BUY else "sell",
            ordertype=extras.ordertype,
            volume=format(total - old.executed_qty, "f"),
            price=call.get("price") or extras.price_text or _plain(first),
            price2=call.get("price2") or extras.price2_text or _plain(second),
            flags=tuple(f for f in (flags.split(",") if flags else extras.oflags) if f),
            time_in_force=(old.time_in_force.value if old.time_in_force else None),
            userref=call.get("userref") if call.get("userref") is not None else extras.userref,
            validate=boolean("validate", call.get("validate")),
            trigger=extras.trigger,
        )
        new = self._new_order(call, fields)
        try:
            self.ex.check(new.request)
        except Rejection as exc:
            raise errors.from_rejection(exc) from None
        result: dict[str, Any] = {
            "status": "ok",
            "descr": {"order": description(new.request, pair, new.extras)},
            "volume": format(total, "f"),
            "price": text(fields.price) or "0",
            "price2": text(fields.price2) or "0",
            "orders_cancelled": 0,
            "originaltxid": order_txid(old.order_id),
        }
        if new.validate_only:
            return result
        age = call.now_ms - old.created_ms
        self.dialect.limiter.charge_edit(call.account_id, old.symbol, call.now_ms, age)
        trading.cancel(
            self.dialect, call.account_id, old, call.now_ms, reason="Order replaced", charge=False
        )
        order = trading.place(self.dialect, new, call.now_ms, charge=False)
        assert order is not None
        result["orders_cancelled"] = 1
        result["txid"] = order_txid(order.order_id)
        return result

    def amend_order(self, call: PrivateCall) -> dict[str, Any]:
        """In place, same txid (ccxt's ``edit_order``): ``order_qty`` (the new total),
        ``limit_price``, ``trigger_price``, ``post_only`` → ``{"amend_id": …}``."""
        order = self._one_open(call, text(call.get("txid")) or text(call.get("cl_ord_id")))
        change = parse_amendment(
            call.params, text(call.get("txid")), self.dialect.pairs[order.symbol], self.ex
        )
        amended = trading.amend(
            self.dialect,
            call.account_id,
            order,
            call.now_ms,
            quantity=change.quantity,
            limit_price=change.limit_price,
            trigger_price=change.trigger_price,
            post_only=change.post_only,
        )
        return {"amend_id": amended}

    def _one_open(self, call: PrivateCall, ident: str | None) -> Order:
        if ident is None:
            raise errors.invalid("txid")
        found = trading.find_open(self.dialect, call.account_id, ident)
        if len(found) != 1:
            raise KrakenError(errors.UNKNOWN_ORDER)
        return found[0]

    def cancel_order(self, call: PrivateCall) -> dict[str, Any]:
        ident = text(call.get("txid")) or check_cl_ord_id(call.get("cl_ord_id"))
        if ident is None:
            raise errors.invalid("txid")
        return {"count": trading.cancel_matching(self.dialect, call.account_id, ident, call.now_ms)}

    def cancel_order_batch(self, call: PrivateCall) -> dict[str, Any]:
        raw = call.get("orders")
        idents = _ids(raw, "orders", 50)
        count = 0
        for ident in idents:
            for order in trading.find_open(self.dialect, call.account_id, ident):
                trading.cancel(self.dialect, call.account_id, order, call.now_ms)
                count += 1
        return {"count": count}

    def cancel_all(self, call: PrivateCall) -> dict[str, Any]:
        return {"count": trading.cancel_all(self.dialect, call.account_id, call.now_ms)}

    # -- queries -------------------------------------------------------------------------------

    def _filters(self, call: PrivateCall) -> tuple[int | None, str | None]:
        userref = integer("userref", call.get("userref"))
        cl_ord_id = check_cl_ord_id(call.get("cl_ord_id"))
        return userref, cl_ord_id

    def _matches(self, order: Order, userref: int | None, cl_ord_id: str | None) -> bool:
        extras = self.dialect.extras_of(order)
        return (userref is None or extras.userref == userref) and (
            cl_ord_id is None or extras.cl_ord_id == cl_ord_id
        )

    def _account_orders(self, account_id: str) -> Iterator[Order]:
        return (o for o in self.ex.orders.values() if o.account_id == account_id)

    def open_orders(self, call: PrivateCall) -> dict[str, Any]:
        with_trades = boolean("trades", call.get("trades"))
        userref, cl_ord_id = self._filters(call)
        return {
            "open": {
                order_txid(o.order_id): order_json(self.dialect, o, with_trades)
                for o in self.ex.open_orders(call.account_id)
                if self._matches(o, userref, cl_ord_id)
            }
        }

    def closed_orders(self, call: PrivateCall) -> dict[str, Any]:
        with_trades = boolean("trades", call.get("trades"))
        userref, cl_ord_id = self._filters(call)
        start, end = _time_bound(call, "start"), _time_bound(call, "end")
        offset = integer("ofs", call.get("ofs"), lo=0) or 0
        closetime = text(call.get("closetime")) or "both"
        if closetime not in ("open", "close", "both"):
            raise errors.invalid("closetime")
        closed = [
            o
            for o in self._account_orders(call.account_id)
            if not o.status.is_open
            and self._matches(o, userref, cl_ord_id)
            and _within(o, start, end, closetime)
        ]
        closed.sort(key=lambda o: (o.updated_ms, o.order_id), reverse=True)
        page = closed[offset : offset + PAGE]
        return {
            "closed": {
                order_txid(o.order_id): order_json(self.dialect, o, with_trades) for o in page
            },
            "count": len(closed),
        }

    def query_orders(self, call: PrivateCall) -> dict[str, Any]:
        with_trades = boolean("trades", call.get("trades"))
        userref = integer("userref", call.get("userref"))
        out: dict[str, Any] = {}
        for txid in _ids(call.get("txid"), "txid", MAX_QUERY_ORDERS):
            order_id = order_id_of(txid)
            if order_id is None:
                raise errors.invalid("txid")
            order = self.ex.orders.get(order_id)
            if order is None or order.account_id != call.account_id:
                continue  # unknown to this account: left out, as Kraken leaves it out
            if userref is None or self.dialect.extras_of(order).userref == userref:
                out[order_txid(order_id)] = order_json(self.dialect, order, with_trades)
        return out

    def _fills(self, account_id: str) -> list[tuple[Order, Fill]]:
        rows = [(o, f) for o in self._account_orders(account_id) for f in o.fills]
        rows.sort(key=lambda row: (row[1].time_ms, row[1].trade_id), reverse=True)
        return rows

    def trades_history(self, call: PrivateCall) -> dict[str, Any]:
        kind = text(call.get("type")) or "all"
        if kind not in (
            "all",
            "any position",
            "closed position",
            "closing position",
            "no position",
        ):
            raise errors.invalid("type")
        start, end = _time_bound(call, "start"), _time_bound(call, "end")
        offset = integer("ofs", call.get("ofs"), lo=0) or 0
        rows = [
            (o, f)
            for o, f in self._fills(call.account_id)
            if (start is None or Decimal(f.time_ms) / 1000 > start)
            and (end is None or Decimal(f.time_ms) / 1000 <= end)
            and kind in ("all", "no position")
        ]
        trades = self.dialect.trade_ids
        return {
            "trades": {
                trades.txid(o.symbol, f.trade_id): trade_json(self.dialect, o, f)
                for o, f in rows[offset : offset + PAGE]
            },
            "count": len(rows),
        }

    def query_trades(self, call: PrivateCall) -> dict[str, Any]:
        wanted: dict[tuple[str, int], str] = {}
        for txid in _ids(call.get("txid"), "txid", MAX_QUERY_TRADES):
            parsed = self.dialect.trade_ids.parse(txid)
            if parsed is None:
                raise errors.invalid("txid")
            wanted[parsed] = txid.strip().upper()
        out: dict[str, Any] = {}
        for order, fill in self._fills(call.account_id):
            asked = wanted.get((order.symbol, fill.trade_id))
            if asked is not None:
                out[asked] = trade_json(self.dialect, order, fill)
        return out

    def endpoints(self) -> dict[str, Endpoint]:
        read, trade, withdraw = Permission.READ, Permission.TRADE, Permission.WITHDRAW
        return {
            "Balance": Endpoint(read, self.balance),
            "BalanceEx": Endpoint(read, self.balance_ex),
            "GetWebSocketsToken": Endpoint(read, self.websockets_token),
            "WithdrawMethods": Endpoint(withdraw, self.withdraw_methods),
            "DepositStatus": Endpoint(read, KrakenTransfers(self.dialect).deposit_status),
            "WithdrawStatus": Endpoint(read, KrakenTransfers(self.dialect).withdraw_status),
            "OpenOrders": Endpoint(read, self.open_orders),
            "ClosedOrders": Endpoint(read, self.closed_orders),
            "QueryOrders": Endpoint(read, self.query_orders),
            "TradesHistory": Endpoint(read, self.trades_history),
            "QueryTrades": Endpoint(read, self.query_trades),
            "AddOrder": Endpoint(trade, self.add_order),
            "AddOrderBatch": Endpoint(trade, self.add_order_batch),
            "AmendOrder": Endpoint(trade, self.amend_order),
            "EditOrder": Endpoint(trade, self.edit_order),
            "CancelOrder": Endpoint(trade, self.cancel_order),
            "CancelOrderBatch": Endpoint(trade, self.cancel_order_batch),
            "CancelAll": Endpoint(trade, self.cancel_all),
        }


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _within(order: Order, start: Decimal | None, end: Decimal | None, closetime: str) -> bool:
    """Whether the order's open or close time (or either, ``both``) is in (start, end]."""
    times: Iterable[int] = {
        "open": (order.created_ms,),
        "close": (order.updated_ms,),
        "both": (order.created_ms, order.updated_ms),
    }[closetime]
    return any(
        (start is None or Decimal(t) / 1000 > start) and (end is None or Decimal(t) / 1000 <= end)
        for t in times
    )


def private_router(dialect: KrakenDialect) -> APIRouter:
    router = APIRouter(prefix="/0/private", tags=["kraken private"])
    api = PrivateApi(dialect, PrivateEndpoints(dialect).endpoints())

    @router.post("/{method}")
    async def private(method: str, request: Request) -> Response:
        return await api.call(request, method)

    return router
