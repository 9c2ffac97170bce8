"""Orders and trades as Kraken's REST API shows them (``OpenOrders``, ``ClosedOrders``,
``QueryOrders``, ``TradesHistory``, ``QueryTrades``, ``AddOrder``'s ``descr``).

Numbers are strings written from exact decimals, never rounded: volumes with 8 decimals
(Kraken's lot precision for most assets), prices with the pair's decimals, costs and fees
with the quote asset's. Fees: an order's ``fee`` is in the asset its ``oflags`` name (``fcib``:
base, ``fciq``: quote) — the asset the core took it from; a trade's ``fee`` is in the quote
currency, as Kraken documents it (a buy's base fee valued at the trade price).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.exchange import OrderRequest
from eip.exchange_simulator.core.orders import (
    ExpiryReason,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Side,
)
from eip.exchange_simulator.kraken import names
from eip.exchange_simulator.kraken.dialect import KrakenDialect, OrderExtras
from eip.exchange_simulator.kraken.ids import encode, order_txid
from eip.exchange_simulator.kraken.names import PairNames

ZERO = Decimal(0)
VOLUME_DECIMALS = 8

STATUS = {
    OrderStatus.NEW: "open",
    OrderStatus.PARTIALLY_FILLED: "open",
    OrderStatus.FILLED: "closed",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REJECTED: "canceled",
}
SELF_TRADE = "Self trade prevention"


def status_and_reason(order: Order, extras: OrderExtras) -> tuple[str, str | None]:
    """Kraken's status of an order and why it closed. Self-trade prevention *cancels* on
    Kraken (``stptype`` cancel-newest / -oldest / -both), where the core expires."""
    if order.expiry_reason is ExpiryReason.SELF_TRADE:
        return "canceled", SELF_TRADE
    return STATUS[order.status], extras.reason


def seconds(time_ms: int) -> float:
    return time_ms / 1000


def volume(value: Decimal) -> str:
    return fixed(value, VOLUME_DECIMALS)


def price(pair: PairNames, value: Decimal | None) -> str:
    return fixed(value if value is not None else ZERO, pair.instrument.price_decimals)


def cost(pair: PairNames, value: Decimal) -> str:
    return fixed(value, names.decimals(pair.instrument.quote)[0])


def _kind_text(ordertype: str) -> str:
    return ordertype.removesuffix("-limit").replace("-", " ")


def description(order: Order | OrderRequest, pair: PairNames, extras: OrderExtras) -> str:
    """``buy 0.02100000 XBTUSD @ limit 330.0``: what Kraken answers an order with."""
    side = "buy" if order.side is Side.BUY else "sell"
    amount = order.quote_quantity if order.quantity is None else order.quantity
    head = f"{side} {volume(amount or ZERO)} {pair.altname} @ "
    if order.type is OrderType.MARKET:
        return head + "market"
    if not order.type.is_conditional:
        return head + f"limit {price(pair, order.price)}"
    trigger = extras.price_text or price(pair, order.stop_price)
    text = head + f"{_kind_text(extras.ordertype)} {trigger}"
    if order.type.has_limit_price:
        text += f" -> limit {extras.price2_text or price(pair, order.price)}"
    return text


def _average(order: Order) -> Decimal:
    return order.cumulative_quote / order.executed_qty if order.executed_qty else ZERO


def order_fee(order: Order) -> Decimal:
    return sum((f.commission for f in order.fills), ZERO)


def order_json(dialect: KrakenDialect, order: Order, with_trades: bool = False) -> dict[str, Any]:
    pair = dialect.pairs[order.symbol]
    extras = dialect.extras_of(order)
    conditional = order.type.is_conditional
    status, reason = status_and_reason(order, extras)
    descr_price = (
        extras.price_text or price(pair, order.trigger_price if conditional else order.price)
        if order.type is not OrderType.MARKET
        else "0"
    )
    descr_price2 = (
        extras.price2_text or price(pair, order.price)
        if conditional and order.type.has_limit_price
        else "0"
    )
    fee = order_fee(order)
    fee_asset = order.fills[0].commission_asset if order.fills else None
    body: dict[str, Any] = {
        "refid": None,
        "userref": extras.userref,
        "status": status,
        "opentm": seconds(order.created_ms),
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": pair.altname,
            "type": "buy" if order.side is Side.BUY else "sell",
            "ordertype": extras.ordertype,
            "price": descr_price,
            "price2": descr_price2,
            "leverage": "none",
            "order": description(order, pair, extras),
            "close": "",
        },
        "vol": volume(
            order.quantity if order.quantity is not None else order.quote_quantity or ZERO
        ),
        "vol_exec": volume(order.executed_qty),
        "cost": cost(pair, order.cumulative_quote),
        "fee": (volume(fee) if fee_asset == pair.instrument.base else cost(pair, fee)),
        "price": price(pair, _average(order)) if order.executed_qty else price(pair, ZERO),
        "stopprice": price(pair, order.trigger_price if conditional else None),
        "limitprice": (
            price(pair, order.price)
            if conditional and order.price is not None
            else price(pair, ZERO)
        ),
        "misc": "",
        "oflags": ",".join(extras.oflags),
    }
    if extras.cl_ord_id is not None:
        body["cl_ord_id"] = extras.cl_ord_id
    if conditional:
        body["trigger"] = extras.trigger
    if not order.status.is_open:
        body["closetm"] = seconds(order.updated_ms)
        body["reason"] = reason
    if with_trades and order.fills:
        body["trades"] = [dialect.trade_ids.txid(order.symbol, f.trade_id) for f in order.fills]
    return body


def trade_fee_in_quote(fill: Fill, pair: PairNames) -> Decimal:
    if fill.commission_asset == pair.instrument.quote:
        return fill.commission
    return fill.commission * fill.price


def trade_json(dialect: KrakenDialect, order: Order, fill: Fill) -> dict[str, Any]:
    pair = dialect.pairs[order.symbol]
    working = order.effective_type
    return {
        "ordertxid": order_txid(order.order_id),
        # Kraken's position id of a spot trade: unique per fill, opaque to clients.
        "postxid": encode("position", order.order_id),
        "pair": pair.key,
        "time": seconds(fill.time_ms),
        "type": "buy" if order.side is Side.BUY else "sell",
        "ordertype": "market" if working is OrderType.MARKET else "limit",
        "price": price(pair, fill.price),
        "cost": cost(pair, fill.qty * fill.price),
        "fee": cost(pair, trade_fee_in_quote(fill, pair)),
        "vol": volume(fill.qty),
        "margin": cost(pair, ZERO),
        "leverage": "0",
        "misc": "",
        "trade_id": fill.trade_id,
        "maker": fill.is_maker,
    }
