"""Core objects in Binance's JSON shapes (REST responses and stream payloads).

Decimals are strings with eight decimals, as Binance spot sends them. Orders expired by
self-trade prevention show as ``EXPIRED_IN_MATCH`` (``x: TRADE_PREVENTION`` on the user stream)
with ``preventedQuantity``; trailing stops carry ``trailingDelta`` (BIPS) and their activation
price as ``stopPrice``; legs of an order list their ``orderListId``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eip.exchange_simulator.binance.order_params import (
    ALLOWED_STP,
    DEFAULT_STP,
    MAX_TRAILING_DELTA,
    MIN_TRAILING_DELTA,
)
from eip.exchange_simulator.core.candles import Candle
from eip.exchange_simulator.core.engine import ListUpdate, OrderUpdate, TradeEvent
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.orders import (
    ExecType,
    ExpiryReason,
    Fill,
    ListChange,
    ListStatus,
    Order,
    OrderList,
    OrderStatus,
    OrderType,
)
from eip.exchange_simulator.core.trailing import OffsetUnit

ZERO = Decimal(0)


def d8(value: Decimal | None) -> str:
    return f"{(value or ZERO):.8f}"


def instrument_json(inst: Instrument) -> dict[str, Any]:
    return {
        "symbol": inst.symbol,
        "status": inst.status,
        "baseAsset": inst.base,
        "baseAssetPrecision": inst.base_precision,
        "quoteAsset": inst.quote,
        "quotePrecision": inst.quote_precision,
        "quoteAssetPrecision": inst.quote_precision,
        "baseCommissionPrecision": inst.base_precision,
        "quoteCommissionPrecision": inst.quote_precision,
        "orderTypes": [t.value for t in OrderType],
        "icebergAllowed": False,
        "ocoAllowed": True,
        "otoAllowed": False,
        "opoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": d8(inst.min_price),
                "maxPrice": d8(inst.max_price),
                "tickSize": d8(inst.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": d8(inst.min_qty),
                "maxQty": d8(inst.max_qty),
                "stepSize": d8(inst.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": d8(ZERO),
                "maxQty": d8(inst.max_qty),
                "stepSize": d8(ZERO),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": d8(inst.min_notional),
                "applyMinToMarket": True,
                "maxNotional": d8(inst.max_notional),
                "applyMaxToMarket": False,
                "avgPriceMins": 0,
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": MIN_TRAILING_DELTA,
                "maxTrailingAboveDelta": MAX_TRAILING_DELTA,
                "minTrailingBelowDelta": MIN_TRAILING_DELTA,
                "maxTrailingBelowDelta": MAX_TRAILING_DELTA,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": DEFAULT_STP.value,
        "allowedSelfTradePreventionModes": [m.value for m in ALLOWED_STP],
    }


def _status(order: Order) -> str:
    if order.status is OrderStatus.EXPIRED and order.expiry_reason is ExpiryReason.SELF_TRADE:
        return "EXPIRED_IN_MATCH"
    return order.status.value


def _list_id(order: Order) -> int:
    return order.list_id if order.list_id is not None else -1


def _stop_price(order: Order) -> Decimal | None:
    """A trailing stop's ``stopPrice`` is its activation price (0 without one)."""
    if order.trailing is not None:
        return order.trailing.activation_price
    return order.stop_price


def trailing_delta(order: Order) -> int | None:
    offset = order.trailing.offset if order.trailing else None
    return int(offset.amount) if offset and offset.unit is OffsetUnit.BPS else None


def _conditional(order: Order, body: dict[str, Any]) -> dict[str, Any]:
    """The fields Binance adds only when they apply."""
    delta = trailing_delta(order)
    if delta is not None:
        body["trailingDelta"] = delta
    if order.prevented_qty > 0:
        body["preventedQuantity"] = d8(order.prevented_qty)
    return body


def order_json(order: Order, now_ms: int | None = None) -> dict[str, Any]:
    """The order object of GET /api/v3/order, openOrders and allOrders."""
    body: dict[str, Any] = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": _list_id(order),
        "clientOrderId": order.client_order_id,
        "price": d8(order.price),
        "origQty": d8(order.quantity),
        "executedQty": d8(order.executed_qty),
        "cummulativeQuoteQty": d8(order.cumulative_quote),
        "status": _status(order),
        "timeInForce": (order.time_in_force.value if order.time_in_force else "GTC"),
        "type": order.type.value,
        "side": order.side.value,
        "stopPrice": d8(_stop_price(order)),
        "icebergQty": d8(ZERO),
        "time": order.created_ms,
        "updateTime": order.updated_ms,
        "isWorking": order.is_working,
        "workingTime": order.working_ms or -1,
        "origQuoteOrderQty": d8(order.quote_quantity),
        "selfTradePreventionMode": order.self_trade_prevention.value,
    }
    return _conditional(order, body)


def new_order_json(order: Order, resp_type: str, transact_ms: int) -> dict[str, Any]:
    """The response of POST /api/v3/order in its ACK, RESULT or FULL flavour."""
    body: dict[str, Any] = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": _list_id(order),
        "clientOrderId": order.client_order_id,
        "transactTime": transact_ms,
    }
    if resp_type == "ACK":
        return body
    body.update(
        {
            "price": d8(order.price),
            "origQty": d8(order.quantity),
            "executedQty": d8(order.executed_qty),
            "origQuoteOrderQty": d8(order.quote_quantity),
            "cummulativeQuoteQty": d8(order.cumulative_quote),
            "status": _status(order),
            "timeInForce": (order.time_in_force.value if order.time_in_force else "GTC"),
            "type": order.type.value,
            "side": order.side.value,
            "workingTime": order.working_ms or -1,
            "selfTradePreventionMode": order.self_trade_prevention.value,
        }
    )
    if order.type.is_conditional:
        body["stopPrice"] = d8(_stop_price(order))
    if resp_type == "FULL":
        body["fills"] = [fill_json(f) for f in order.fills]
    return _conditional(order, body)


def amended_order_json(order: Order, orig_client_id: str) -> dict[str, Any]:
    """``amendedOrder`` of ``order/amend/keepPriority`` (its own field names: qty, preventedQty,
    cumulativeQuoteQty with one m)."""
    body: dict[str, Any] = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": _list_id(order),
        "origClientOrderId": orig_client_id,
        "clientOrderId": order.client_order_id,
        "price": d8(order.price),
        "qty": d8(order.quantity),
        "executedQty": d8(order.executed_qty),
        "preventedQty": d8(order.prevented_qty),
        "quoteOrderQty": d8(order.quote_quantity),
        "cumulativeQuoteQty": d8(order.cumulative_quote),
        "status": _status(order),
        "timeInForce": (order.time_in_force.value if order.time_in_force else "GTC"),
        "type": order.type.value,
        "side": order.side.value,
        "selfTradePreventionMode": order.self_trade_prevention.value,
    }
    if order.working_ms is not None:
        body["workingTime"] = order.working_ms
    if order.type.is_conditional:
        body["stopPrice"] = d8(_stop_price(order))
    return body


_LIST_STATUS_TYPE = {
    ListChange.CREATED: "EXEC_STARTED",
    ListChange.UPDATED: "UPDATED",
    ListChange.DONE: "ALL_DONE",
}


def list_json(order_list: OrderList, change: ListChange | None = None) -> dict[str, Any]:
    """An order list as ``orderList`` endpoints show it (``orderReports`` added by callers)."""
    done = order_list.status is ListStatus.ALL_DONE
    if change is None:
        change = ListChange.DONE if done else ListChange.CREATED
    return {
        "orderListId": order_list.list_id,
        "contingencyType": order_list.contingency,
        "listStatusType": _LIST_STATUS_TYPE[change],
        "listOrderStatus": "ALL_DONE" if done else "EXECUTING",
        "listClientOrderId": order_list.client_list_id,
        "transactionTime": order_list.updated_ms,
        "symbol": order_list.symbol,
        "orders": [
            {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
            for o in order_list.orders
        ],
    }


def list_status_event(update: ListUpdate) -> dict[str, Any]:
    order_list = update.order_list
    done = order_list.status is ListStatus.ALL_DONE
    return {
        "e": "listStatus",
        "E": update.time_ms,
        "s": order_list.symbol,
        "g": order_list.list_id,
        "c": order_list.contingency,
        "l": _LIST_STATUS_TYPE[update.change],
        "L": "ALL_DONE" if done else "EXECUTING",
        "r": "NONE",
        "C": order_list.client_list_id,
        "T": update.time_ms,
        "O": [{"s": o.symbol, "i": o.order_id, "c": o.client_order_id} for o in order_list.orders],
    }


def fill_json(fill: Fill) -> dict[str, Any]:
    return {
        "price": d8(fill.price),
        "qty": d8(fill.qty),
        "commission": d8(fill.commission),
        "commissionAsset": fill.commission_asset,
        "tradeId": fill.trade_id,
    }


def my_trade_json(order: Order, fill: Fill) -> dict[str, Any]:
    return {
        "symbol": order.symbol,
        "id": fill.trade_id,
        "orderId": order.order_id,
        "orderListId": _list_id(order),
        "price": d8(fill.price),
        "qty": d8(fill.qty),
        "quoteQty": d8(fill.price * fill.qty),
        "commission": d8(fill.commission),
        "commissionAsset": fill.commission_asset,
        "time": fill.time_ms,
        "isBuyer": order.side.value == "BUY",
        "isMaker": fill.is_maker,
        "isBestMatch": True,
    }


def trade_json(trade: TradeEvent) -> dict[str, Any]:
    return {
        "id": trade.trade_id,
        "price": d8(trade.price),
        "qty": d8(trade.qty),
        "quoteQty": d8(trade.price * trade.qty),
        "time": trade.time_ms,
        "isBuyerMaker": trade.buyer_is_maker,
        "isBestMatch": True,
    }


def agg_trade_json(trade: TradeEvent) -> dict[str, Any]:
    # One aggregate per trade: the engine prints one trade per maker fill.
    return {
        "a": trade.trade_id,
        "p": d8(trade.price),
        "q": d8(trade.qty),
        "f": trade.trade_id,
        "l": trade.trade_id,
        "T": trade.time_ms,
        "m": trade.buyer_is_maker,
        "M": True,
    }


def kline_row(c: Candle) -> list[Any]:
    return [
        c.open_time,
        d8(c.open),
        d8(c.high),
        d8(c.low),
        d8(c.close),
        d8(c.volume),
        c.close_time,
        d8(c.quote_volume),
        c.trades,
        d8(c.taker_buy_volume),
        d8(c.taker_buy_quote_volume),
        "0",
    ]


def kline_event(symbol: str, interval: str, c: Candle, closed: bool, now_ms: int) -> dict[str, Any]:
    return {
        "e": "kline",
        "E": now_ms,
        "s": symbol,
        "k": {
            "t": c.open_time,
            "T": c.close_time,
            "s": symbol,
            "i": interval,
            "f": c.first_trade_id,
            "L": c.last_trade_id,
            "o": d8(c.open),
            "c": d8(c.close),
            "h": d8(c.high),
            "l": d8(c.low),
            "v": d8(c.volume),
            "n": c.trades,
            "x": closed,
            "q": d8(c.quote_volume),
            "V": d8(c.taker_buy_volume),
            "Q": d8(c.taker_buy_quote_volume),
            "B": "0",
        },
    }


def execution_report(update: OrderUpdate) -> dict[str, Any]:
    o, fill = update.order, update.last_fill
    # A cancel is reported under the cancel request's id, with the order's own id in "C".
    cancel_id = o.cancel_client_order_id if update.exec_type is ExecType.CANCELED else ""
    prevented = update.exec_type is ExecType.EXPIRED and o.expiry_reason is ExpiryReason.SELF_TRADE
    event = {
        "e": "executionReport",
        "E": update.time_ms,
        "s": o.symbol,
        "c": cancel_id or o.client_order_id,
        "S": o.side.value,
        "o": o.type.value,
        "f": o.time_in_force.value if o.time_in_force else "GTC",
        "q": d8(o.quantity),
        "p": d8(o.price),
        "P": d8(_stop_price(o)),
        "F": d8(ZERO),
        "g": _list_id(o),
        "C": o.client_order_id if cancel_id else "",
        "x": "TRADE_PREVENTION" if prevented else update.exec_type.value,
        "X": _status(o),
        "r": "NONE",
        "i": o.order_id,
        "l": d8(fill.qty if fill else ZERO),
        "z": d8(o.executed_qty),
        "L": d8(fill.price if fill else ZERO),
        "n": d8(fill.commission if fill else ZERO),
        "N": fill.commission_asset if fill else None,
        "T": update.time_ms,
        "t": fill.trade_id if fill else -1,
        "I": update.time_ms,
        "w": o.status.is_open,
        "m": bool(fill and fill.is_maker),
        "M": False,
        "O": o.created_ms,
        "Z": d8(o.cumulative_quote),
        "Y": d8(fill.price * fill.qty if fill else ZERO),
        "Q": d8(o.quote_quantity),
        "W": o.working_ms or -1,
        "V": o.self_trade_prevention.value,
    }
    delta = trailing_delta(o)
    if delta is not None:
        event["d"] = delta
    if prevented:
        event["A"] = d8(o.prevented_qty)
        event["B"] = d8(o.prevented_qty)  # the whole remainder, in any EXPIRE_* mode
    return event
