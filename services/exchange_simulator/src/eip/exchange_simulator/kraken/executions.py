"""Kraken WebSocket v2 ``executions`` items from the core's order updates, as Kraken shapes them:
which fields each ``exec_type`` carries (``pending_new`` every field, ``new`` only the change
unless it is the only event, ``trade`` the fill, ``filled``/``canceled``/``expired`` the
totals, ``amended`` what changed), Kraken's ids, and the order's Kraken record (``cl_ord_id``,
``order_userref``, type, trigger)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eip.exchange_simulator.core.engine import OrderUpdate
from eip.exchange_simulator.core.orders import ExecType, Fill, Order, OrderStatus, OrderType, Side
from eip.exchange_simulator.core.trailing import OffsetUnit
from eip.exchange_simulator.kraken import wire
from eip.exchange_simulator.kraken.dialect import KrakenDialect
from eip.exchange_simulator.kraken.ids import encode, order_txid
from eip.exchange_simulator.kraken.views import status_and_reason
from eip.exchange_simulator.kraken.wire import Num

ZERO = Decimal(0)
STATUS = {
    OrderStatus.NEW: "new",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REJECTED: "canceled",
}


class ExecutionReports:
    def __init__(self, dialect: KrakenDialect) -> None:
        self.dialect = dialect
        self.exchange = dialect.exchange
        self._exec_ids = 0

    def open_order(self, order: Order) -> dict[str, Any]:
        """An open order in the snapshot: every field, as of now."""
        item = self._base(order, "new", STATUS[order.status], order.updated_ms)
        item.update(self._order_fields(order))
        item.update(self._cumulative(order))
        item["exec_id"] = self._next_exec_id()
        return item

    def _next_exec_id(self) -> str:
        self._exec_ids += 1
        return encode("execution", self._exec_ids)

    def _base(self, order: Order, exec_type: str, status: str, time_ms: int) -> dict[str, Any]:
        extras = self.dialect.extras_of(order)
        item: dict[str, Any] = {
            "order_id": order_txid(order.order_id),
            "exec_type": exec_type,
            "order_status": status,
            "timestamp": wire.timestamp(time_ms),
            "order_userref": extras.userref if extras.userref is not None else 0,
        }
        if extras.cl_ord_id is not None:
            item["cl_ord_id"] = extras.cl_ord_id
        return item

    def _cumulative(self, order: Order) -> dict[str, Any]:
        inst = self.exchange.instruments[order.symbol]
        avg = order.cumulative_quote / order.executed_qty if order.executed_qty else ZERO
        return {
            "cum_qty": Num(order.executed_qty, inst.qty_decimals),
            "cum_cost": Num(order.cumulative_quote, inst.price_decimals),
            "avg_price": Num(avg, inst.price_decimals),
        }

    def _order_fields(self, order: Order) -> dict[str, Any]:
        """Every field of a live order, as ``pending_new`` and the snapshot carry them."""
        inst = self.exchange.instruments[order.symbol]
        extras = self.dialect.extras_of(order)
        fields: dict[str, Any] = {
            "symbol": wire.ws_symbol(inst),
            "side": "buy" if order.side is Side.BUY else "sell",
            "order_type": extras.ordertype,
            "time_in_force": order.time_in_force.value if order.time_in_force else "GTC",
            "fee_ccy_pref": extras.oflags[0] if extras.oflags else "fciq",
            "fee_usd_equiv": Num(ZERO, 2),
            "post_only": order.type is OrderType.LIMIT_MAKER,
        }
        if order.quantity is not None:
            fields["order_qty"] = Num(order.quantity, inst.qty_decimals)
        else:
            fields["cash_order_qty"] = Num(order.quote_quantity or ZERO, inst.price_decimals)
        if order.price is not None:
            fields["limit_price_type"] = "static"
            fields["limit_price"] = Num(order.price, inst.price_decimals)
        if order.type.is_conditional:
            fields["triggers"] = self._triggers(order)
        return fields

    def _triggers(self, order: Order) -> dict[str, Any]:
        inst = self.exchange.instruments[order.symbol]
        pdp = inst.price_decimals
        trigger = order.trigger_price
        out: dict[str, Any] = {
            "reference": self.dialect.extras_of(order).trigger,
            "price_type": "static",
            "status": "triggered" if order.is_working else "untriggered",
        }
        if order.trailing is None:
            assert order.stop_price is not None
            out["price"] = Num(order.stop_price, pdp)
        else:
            offset = order.trailing.offset
            in_pct = offset.unit is OffsetUnit.BPS
            out["price"] = Num(offset.amount / 100 if in_pct else offset.amount, pdp)
            out["price_type"] = "pct" if in_pct else "quote"
            if order.trail_extreme is not None:
                out["peak_price"] = Num(order.trail_extreme, pdp)
        out["actual_price"] = Num(trigger if trigger is not None else ZERO, pdp)
        return out

    def items(self, update: OrderUpdate, all_statuses: bool) -> list[dict[str, Any]]:
        """The execution events of one core order update (``all_statuses``: the subscription's
        ``order_status``)."""
        order, now = update.order, update.time_ms
        if update.exec_type is ExecType.NEW:
            full = {**self._base(order, "new", "new", now), **self._order_fields(order)}
            full["exec_id"] = self._next_exec_id()
            if not all_statuses:
                return [full]
            pending = {**full, "exec_type": "pending_new", "order_status": "pending_new"}
            short = self._base(order, "new", "new", now)
            short["exec_id"] = self._next_exec_id()
            return [pending, short]
        if update.exec_type is ExecType.TRADE:
            assert update.last_fill is not None
            items = [self.trade(order, update.last_fill)]
            if order.status is OrderStatus.FILLED:
                filled = {**self._base(order, "filled", "filled", now), **self._cumulative(order)}
                filled["exec_id"] = self._next_exec_id()
                items.append(filled)
            return items
        if update.exec_type in (ExecType.CANCELED, ExecType.EXPIRED):
            status, reason = status_and_reason(order, self.dialect.extras_of(order))
            item = {**self._base(order, status, status, now), **self._cumulative(order)}
            item["exec_id"] = self._next_exec_id()
            if status == "canceled":
                item["cancel_reason"] = reason or "User requested"
            return [item]
        if update.exec_type is ExecType.REPLACED:
            if not all_statuses:  # an amendment opens or closes nothing
                return []
            status = STATUS[order.status]
            item = {**self._base(order, "amended", status, now), **self._amended_fields(order)}
            item["exec_id"] = self._next_exec_id()
            item["reason"] = "User requested"
            return [item]
        return []

    def _amended_fields(self, order: Order) -> dict[str, Any]:
        """What an amendment can change, as it now stands."""
        inst = self.exchange.instruments[order.symbol]
        fields: dict[str, Any] = self._cumulative(order)
        if order.quantity is not None:
            fields["order_qty"] = Num(order.quantity, inst.qty_decimals)
        if order.price is not None:
            fields["limit_price"] = Num(order.price, inst.price_decimals)
        if order.type.is_conditional:
            fields["triggers"] = self._triggers(order)
        return fields

    def trade(self, order: Order, fill: Fill) -> dict[str, Any]:
        inst = self.exchange.instruments[order.symbol]
        status = (
            "filled"
            if order.remaining == 0 and order.quantity is not None
            else ("partially_filled")
        )
        if order.status is OrderStatus.FILLED:
            status = "filled"
        item = self._base(order, "trade", status, fill.time_ms)
        fee_quote = (
            fill.commission
            if fill.commission_asset == inst.quote
            else (fill.commission * fill.price)
        )
        usd = fee_quote if inst.quote in ("USD", "USDT", "USDC") else ZERO
        item.update(
            {
                "exec_id": self.dialect.trade_ids.txid(order.symbol, fill.trade_id),
                "trade_id": fill.trade_id,
                "symbol": wire.ws_symbol(inst),
                "side": "buy" if order.side is Side.BUY else "sell",
                "order_type": self.dialect.extras_of(order).ordertype,
                "last_qty": Num(fill.qty, inst.qty_decimals),
                "last_price": Num(fill.price, inst.price_decimals),
                "liquidity_ind": "m" if fill.is_maker else "t",
                "cost": Num(fill.qty * fill.price, inst.price_decimals),
                "fee_usd_equiv": Num(usd, 2),
                "fees": [{"asset": fill.commission_asset, "qty": Num(fill.commission, 8)}],
                **self._cumulative(order),
            }
        )
        return item
