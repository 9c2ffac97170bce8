"""Binance spot trading payloads ↔ the trading contract: order parameters out; orders, fills,
balances, instrument rules and user-data events in; Binance's error codes as reject reasons.

Numbers are taken from Binance's strings, never through float. Subtle spellings:

- ``origQty`` is ``"0.00000000"`` for a market order sized in quote (``quoteOrderQty``): its
  base quantity is unknown until it fills, so it is ``None`` here.
- A conditional order is *untriggered* while Binance has not put it to work
  (``workingTime`` / ``W`` of -1).
- In a cancel's ``executionReport`` ``c`` is the cancel request's own id and ``C`` the order's;
  in a cancel's REST answer ``clientOrderId`` is the cancel's and ``origClientOrderId`` the
  order's.
- The best order of updates Binance gives is a millisecond (``T``, ``updateTime``): it is the
  ``sequence``, and ``VenueOrder.update_key`` breaks its ties.
- A trailing stop is a ``STOP_LOSS(_LIMIT)`` with ``trailingDelta`` (basis points, integers
  only); its ``stopPrice`` is then the activation price, 0 when it trails from the start. Any
  order Binance shows with a ``trailingDelta`` (``d`` in events) reads as a trailing stop.
- An order expired by self-trade prevention says ``EXPIRED_IN_MATCH``: expired, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eip.exchanges.binance.assets import ASSET_CODES
from eip.exchanges.contract.errors import BadRequest, NotSupported, OrderRejected, RejectReason
from eip.exchanges.contract.symbols import SymbolMap, normalize_asset
from eip.exchanges.contract.trading import (
    AssetBalance,
    BalanceUpdate,
    ClientOrderIdRules,
    InstrumentRules,
    OcoRequest,
    OrderRequest,
    OrderSide,
    OrderType,
    TimeInForce,
    TrailingOffset,
    VenueFill,
    VenueOrder,
    VenueOrderStatus,
)

EXCHANGE = "binance"
# newClientOrderId: ^[a-zA-Z0-9-_]{1,36}$
CLIENT_ORDER_IDS = ClientOrderIdRules(max_length=36, alphabet="A-Za-z0-9_-")
ZERO = Decimal(0)

_TYPE_OUT: Mapping[OrderType, str] = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_MARKET: "STOP_LOSS",
    OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT",
    OrderType.TAKE_PROFIT_MARKET: "TAKE_PROFIT",
    OrderType.TAKE_PROFIT_LIMIT: "TAKE_PROFIT_LIMIT",
}
_TYPE_IN: Mapping[str, OrderType] = {
    **{name: kind for kind, name in _TYPE_OUT.items()},
    "LIMIT_MAKER": OrderType.LIMIT,
}
_TRAILING: Mapping[OrderType, OrderType] = {
    OrderType.STOP_MARKET: OrderType.TRAILING_STOP_MARKET,
    OrderType.TAKE_PROFIT_MARKET: OrderType.TRAILING_STOP_MARKET,
    OrderType.STOP_LIMIT: OrderType.TRAILING_STOP_LIMIT,
    OrderType.TAKE_PROFIT_LIMIT: OrderType.TRAILING_STOP_LIMIT,
}
SELF_TRADE_PREVENTION = "self_trade_prevention"
_STATUS: Mapping[str, VenueOrderStatus] = {
    "NEW": VenueOrderStatus.OPEN,
    "PENDING_NEW": VenueOrderStatus.OPEN,
    "PARTIALLY_FILLED": VenueOrderStatus.PARTIALLY_FILLED,
    "FILLED": VenueOrderStatus.FILLED,
    "CANCELED": VenueOrderStatus.CANCELED,
    "PENDING_CANCEL": VenueOrderStatus.CANCELED,
    "REJECTED": VenueOrderStatus.REJECTED,
    "EXPIRED": VenueOrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": VenueOrderStatus.EXPIRED,  # self-trade prevention
}
_TIF: Mapping[str, TimeInForce] = {
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
}


def dec(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise ValueError(f"expected a decimal string, got {value!r}")
    return Decimal(value)


def wire_decimal(value: Decimal) -> str:
    """A plain decimal string (never an exponent), as Binance's parameter filter wants."""
    if not value.is_finite():
        raise BadRequest(EXCHANGE, f"not a finite number: {value}")
    text = format(value.normalize(), "f")
    return text


def ms_to_utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _positive(value: Any) -> Decimal | None:
    """A price or quantity field, None when Binance says 0 (not set)."""
    if value is None:
        return None
    number = dec(value)
    return number if number > 0 else None


# -- requests ------------------------------------------------------------------------------------


def order_params(request: OrderRequest, instrument: str) -> dict[str, str]:
    """``POST /api/v3/order`` parameters for ``request``; ``OrderRejected(INVALID_ORDER)`` or
    ``NotSupported`` for what Binance cannot take, before anything is sent."""

    def refuse(message: str) -> OrderRejected:
        return OrderRejected(EXCHANGE, RejectReason.INVALID_ORDER, message)

    if request.reduce_only:
        raise refuse("reduce-only is for derivatives; Binance spot has none")
    if request.time_in_force is TimeInForce.GTD or request.expire_time is not None:
        raise refuse("Binance spot has no good-till-date orders")
    params: dict[str, str] = {
        "symbol": instrument,
        "side": request.side.upper(),
        "newClientOrderId": request.client_order_id,
        "newOrderRespType": "RESULT",
    }
    if request.post_only:
        if request.type is not OrderType.LIMIT:
            raise refuse("post-only is for limit orders")
        if request.time_in_force is not TimeInForce.GTC:
            raise refuse("a post-only order rests: it is good till cancelled")
        params["type"] = "LIMIT_MAKER"
    elif request.type is OrderType.TRAILING_STOP_MARKET:
        params["type"] = "STOP_LOSS"
    elif request.type is OrderType.TRAILING_STOP_LIMIT:
        params["type"] = "STOP_LOSS_LIMIT"
    else:
        params["type"] = _TYPE_OUT[request.type]
    if request.type is OrderType.MARKET:
        if (request.quantity is None) == (request.quote_quantity is None):
            raise refuse("a market order has a quantity or a quote quantity, not both")
        if request.quote_quantity is not None:
            params["quoteOrderQty"] = wire_decimal(request.quote_quantity)
    elif request.quote_quantity is not None:
        raise refuse("only market orders are sized in the quote asset")
    if request.quantity is not None:
        params["quantity"] = wire_decimal(request.quantity)
    elif request.type is not OrderType.MARKET:
        raise refuse(f"a {request.type.value} order needs a quantity")
    if request.type.has_limit_price:
        if request.price is None:
            raise refuse(f"a {request.type.value} order needs a price")
        params["price"] = wire_decimal(request.price)
        if not request.post_only:
            params["timeInForce"] = request.time_in_force.value.upper()
    elif request.price is not None:
        raise refuse(f"a {request.type.value} order takes no price")
    elif request.time_in_force is not TimeInForce.GTC:
        raise refuse(f"a {request.type.value} order takes no time in force")
    if request.type.is_trailing:
        params["trailingDelta"] = trailing_delta(request.trailing)
        if request.stop_price is not None:  # the activation price
            params["stopPrice"] = wire_decimal(request.stop_price)
    elif request.trailing is not None:
        raise refuse(f"a {request.type.value} order does not trail")
    elif request.type.is_conditional:
        if request.stop_price is None:
            raise refuse(f"a {request.type.value} order needs a stop price")
        params["stopPrice"] = wire_decimal(request.stop_price)
    elif request.stop_price is not None:
        raise refuse(f"a {request.type.value} order takes no stop price")
    return params


def trailing_delta(offset: TrailingOffset | None) -> str:
    """``trailingDelta``: Binance trails by whole basis points only; an absolute distance is
    the platform's to emulate."""
    if offset is None:
        raise OrderRejected(
            EXCHANGE, RejectReason.INVALID_ORDER, "a trailing stop needs its offset"
        )
    if offset.unit != "bps":
        raise NotSupported(EXCHANGE, "Binance trails by basis points, not by a price distance")
    if offset.value != offset.value.to_integral_value() or offset.value <= 0:
        raise OrderRejected(
            EXCHANGE, RejectReason.INVALID_ORDER, "Binance's trailing delta is whole basis points"
        )
    return str(int(offset.value))


def oco_params(request: OcoRequest, instrument: str) -> dict[str, str]:
    """``POST /api/v3/orderList/oco``: the limit leg as a LIMIT_MAKER on the profit side (above
    for a sell, below for a buy), the stop leg on the other (a STOP_LOSS, or STOP_LOSS_LIMIT at
    ``stop_limit_price``), one quantity."""
    limit_side, stop_side = ("above", "below") if request.side == "sell" else ("below", "above")
    params: dict[str, str] = {
        "symbol": instrument,
        "side": request.side.upper(),
        "quantity": wire_decimal(request.quantity),
        "listClientOrderId": request.list_client_id,
        "newOrderRespType": "RESULT",
        f"{limit_side}Type": "LIMIT_MAKER",
        f"{limit_side}Price": wire_decimal(request.price),
        f"{limit_side}ClientOrderId": request.limit_client_order_id,
        f"{stop_side}StopPrice": wire_decimal(request.stop_price),
        f"{stop_side}ClientOrderId": request.stop_client_order_id,
    }
    if request.stop_limit_price is None:
        params[f"{stop_side}Type"] = "STOP_LOSS"
    else:
        params[f"{stop_side}Type"] = "STOP_LOSS_LIMIT"
        params[f"{stop_side}Price"] = wire_decimal(request.stop_limit_price)
        params[f"{stop_side}TimeInForce"] = "GTC"
    return params


def order_id_params(client_order_id: str | None, venue_order_id: str | None) -> dict[str, str]:
    """Which order a query, cancel or amend is about: Binance looks up ``orderId`` first."""
    if venue_order_id is not None:
        if not venue_order_id.isdigit():
            raise BadRequest(EXCHANGE, f"Binance order ids are numbers, not {venue_order_id!r}")
        return {"orderId": venue_order_id}
    if client_order_id is not None:
        return {"origClientOrderId": client_order_id}
    raise BadRequest(EXCHANGE, "name the order by client_order_id or venue_order_id")


# -- orders and fills ----------------------------------------------------------------------------


def _order_type(raw: Mapping[str, Any], type_field: str, delta_field: str) -> OrderType:
    name = raw[type_field]
    kind = _TYPE_IN.get(name)
    if kind is None:
        raise ValueError(f"unknown Binance order type {name!r}")
    if raw.get(delta_field) not in (None, 0, "0"):
        return _TRAILING.get(kind, kind)
    return kind


def _reason(status_name: str) -> str | None:
    return SELF_TRADE_PREVENTION if status_name == "EXPIRED_IN_MATCH" else None


def _status(name: str, conditional: bool, working_ms: int) -> VenueOrderStatus:
    status = _STATUS.get(name)
    if status is None:
        raise ValueError(f"unknown Binance order status {name!r}")
    if status is VenueOrderStatus.OPEN and conditional and working_ms < 0:
        return VenueOrderStatus.UNTRIGGERED
    return status


def _average(quote: Decimal, filled: Decimal) -> Decimal | None:
    return quote / filled if filled > 0 else None


def order(raw: Mapping[str, Any], symbols: SymbolMap) -> VenueOrder:
    """An order object: ``GET /api/v3/order``, ``openOrders``, ``allOrders``, the RESULT answer
    of a placement, a cancel's answer (``origClientOrderId`` is then the order's own id), an
    amend's ``amendedOrder``."""
    kind = _order_type(raw, "type", "trailingDelta")
    working = int(raw.get("workingTime", -1) if raw.get("workingTime") is not None else -1)
    filled = dec(raw["executedQty"])
    quote = dec(raw.get("cummulativeQuoteQty", raw.get("cumulativeQuoteQty", "0")))
    quantity = _positive(raw.get("origQty", raw.get("qty")))
    updated = raw.get("updateTime", raw.get("transactTime"))
    created = raw.get("time", raw.get("transactTime"))
    tif = raw.get("timeInForce")
    return VenueOrder(
        exchange=EXCHANGE,
        symbol=symbols.symbol(raw["symbol"]),
        venue_order_id=str(raw["orderId"]),
        client_order_id=raw.get("origClientOrderId") or raw.get("clientOrderId") or None,
        side="buy" if raw["side"] == "BUY" else "sell",
        type=kind,
        status=_status(raw["status"], kind.is_conditional, working),
        quantity=quantity,
        filled_quantity=filled,
        price=_positive(raw.get("price")) if kind.has_limit_price else None,
        stop_price=_positive(raw.get("stopPrice")) if kind.is_conditional else None,
        average_price=_average(quote, filled),
        time_in_force=_TIF.get(tif) if isinstance(tif, str) else None,
        created_time=ms_to_utc(int(created)) if created is not None else None,
        updated_time=ms_to_utc(int(updated)) if updated is not None else None,
        sequence=int(updated) if updated is not None else None,
        reason=_reason(raw["status"]),
        list_id=str(raw["orderListId"]) if int(raw.get("orderListId", -1)) >= 0 else None,
    )


def my_trade(
    raw: Mapping[str, Any], symbols: SymbolMap, client_ids: Mapping[str, str]
) -> VenueFill:
    """A ``GET /api/v3/myTrades`` row. Rows do not say the order's client id: ``client_ids``
    (venue order id → client id, from orders seen) fills it in where known."""
    order_id = str(raw["orderId"])
    return VenueFill(
        exchange=EXCHANGE,
        symbol=symbols.symbol(raw["symbol"]),
        trade_id=str(raw["id"]),
        venue_order_id=order_id,
        client_order_id=client_ids.get(order_id),
        side="buy" if raw["isBuyer"] else "sell",
        price=dec(raw["price"]),
        quantity=dec(raw["qty"]),
        fee=dec(raw["commission"]),
        fee_asset=normalize_asset(raw["commissionAsset"]) if raw.get("commissionAsset") else None,
        liquidity="maker" if raw["isMaker"] else "taker",
        time=ms_to_utc(int(raw["time"])),
    )


def execution_report(
    event: Mapping[str, Any], symbols: SymbolMap
) -> tuple[VenueOrder, VenueFill | None]:
    """An ``executionReport``: the order as it stands after it, and the fill it reports (for
    execution type TRADE)."""
    kind = _order_type(event, "o", "d")
    filled = dec(event["z"])
    canceled = event["x"] == "CANCELED" and bool(event.get("C"))
    client_id = event["C"] if canceled else event["c"]
    symbol = symbols.symbol(event["s"])
    side: OrderSide = "buy" if event["S"] == "BUY" else "sell"
    when = int(event["T"])
    order_id = str(event["i"])
    updated = VenueOrder(
        exchange=EXCHANGE,
        symbol=symbol,
        venue_order_id=order_id,
        client_order_id=client_id or None,
        side=side,
        type=kind,
        status=_status(event["X"], kind.is_conditional, int(event.get("W", -1))),
        quantity=_positive(event["q"]),
        filled_quantity=filled,
        price=_positive(event.get("p")) if kind.has_limit_price else None,
        stop_price=_positive(event.get("P")) if kind.is_conditional else None,
        average_price=_average(dec(event["Z"]), filled),
        time_in_force=_TIF.get(event.get("f", "")),
        created_time=ms_to_utc(int(event["O"])) if event.get("O") is not None else None,
        updated_time=ms_to_utc(when),
        sequence=when,
        reason=_reason(event["X"])
        or (None if event.get("r", "NONE") == "NONE" else str(event["r"])),
        list_id=str(event["g"]) if int(event.get("g", -1)) >= 0 else None,
    )
    fill = None
    if event["x"] == "TRADE":
        fee_asset = event.get("N")
        fill = VenueFill(
            exchange=EXCHANGE,
            symbol=symbol,
            trade_id=str(event["t"]),
            venue_order_id=order_id,
            client_order_id=client_id or None,
            side=side,
            price=dec(event["L"]),
            quantity=dec(event["l"]),
            fee=dec(event["n"]),
            fee_asset=normalize_asset(fee_asset) if fee_asset else None,
            liquidity="maker" if event["m"] else "taker",
            time=ms_to_utc(when),
        )
    return updated, fill


def balances(rows: Iterable[Mapping[str, Any]], asset: str = "asset") -> list[AssetBalance]:
    """``account.balances`` (``asset``/``free``/``locked``) or ``outboundAccountPosition.B``
    (``a``/``f``/``l``, pass ``asset="a"``). Codes go through the one table of balance codes:
    Simple Earn's ``LD<asset>`` positions, listed in the spot account, are that asset's ``earn``
    wallet, never spot."""
    free, locked = ("free", "locked") if asset == "asset" else ("f", "l")
    out = []
    for row in rows:
        code = ASSET_CODES.balance_asset(row[asset])
        out.append(
            AssetBalance(
                asset=code.asset,
                free=dec(row[free]) * code.scale,
                locked=dec(row[locked]) * code.scale,
                wallet=code.wallet,
            )
        )
    return out


def account_position(event: Mapping[str, Any], received: datetime) -> BalanceUpdate:
    """``outboundAccountPosition``: the assets that changed, as they are now."""
    return BalanceUpdate(
        exchange=EXCHANGE,
        balances=balances(event["B"], asset="a"),
        snapshot=False,
        exchange_time=ms_to_utc(int(event["E"])),
        received_time=received,
    )


# -- instrument rules ----------------------------------------------------------------------------


def _filter(entry: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for item in entry.get("filters", []):
        if item.get("filterType") == name:
            return item  # type: ignore[no-any-return]
    return {}


def instrument_rules(entry: Mapping[str, Any]) -> InstrumentRules:
    """One ``exchangeInfo.symbols`` entry: filters, order types (trailing stops where
    ``allowTrailingStop``), post-only, quote-sized market orders, amend, OCO, trading status."""
    price = _filter(entry, "PRICE_FILTER")
    lot = _filter(entry, "LOT_SIZE")
    market_lot = _filter(entry, "MARKET_LOT_SIZE")
    notional = _filter(entry, "NOTIONAL") or _filter(entry, "MIN_NOTIONAL")
    names = set(entry.get("orderTypes", []))
    types = {_TYPE_IN[n] for n in names if n in _TYPE_OUT.values()}
    if entry.get("allowTrailingStop"):
        types |= {_TRAILING[t] for t in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) if t in types}
    return InstrumentRules(
        symbol=f"{normalize_asset(entry['baseAsset'])}/{normalize_asset(entry['quoteAsset'])}",
        base=normalize_asset(entry["baseAsset"]),
        quote=normalize_asset(entry["quoteAsset"]),
        tick_size=dec(price.get("tickSize", "0")),
        lot_size=dec(lot.get("stepSize", "0")),
        min_quantity=dec(lot.get("minQty", "0")),
        max_quantity=_positive(lot.get("maxQty")),
        min_notional=_positive(notional.get("minNotional")),
        max_notional=_positive(notional.get("maxNotional")),
        order_types=frozenset(types),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
        post_only="LIMIT_MAKER" in names,
        quote_quantity_market=bool(entry.get("quoteOrderQtyMarketAllowed")),
        trading=entry.get("status") == "TRADING",
        amend=bool(entry.get("amendAllowed")),
        oco=bool(entry.get("ocoAllowed")),
        max_market_quantity=_positive(market_lot.get("maxQty")),
    )


# -- errors --------------------------------------------------------------------------------------

# -2010 NEW_ORDER_REJECTED carries the matching engine's reason in its message only.
NEW_ORDER_REJECTED: Mapping[str, RejectReason] = {
    "Account has insufficient balance for requested action.": RejectReason.INSUFFICIENT_FUNDS,
    "Duplicate order sent.": RejectReason.DUPLICATE_CLIENT_ORDER_ID,
    "Order would immediately match and take.": RejectReason.POST_ONLY_WOULD_TAKE,
    "Order would trigger immediately.": RejectReason.INVALID_ORDER,
    "Market is closed.": RejectReason.MARKET_CLOSED,
    "Unsupported order combination": RejectReason.INVALID_ORDER,
    "Market orders are not supported for this symbol.": RejectReason.INVALID_ORDER,
    "Stop loss orders are not supported for this symbol.": RejectReason.INVALID_ORDER,
    "Take profit orders are not supported for this symbol.": RejectReason.INVALID_ORDER,
    "This action is disabled on this account.": RejectReason.PERMISSION_DENIED,
}
# -1013 "Filter failure: <FILTER>"
FILTER_FAILURES: Mapping[str, RejectReason] = {
    "PRICE_FILTER": RejectReason.PRICE_FILTER,
    "PERCENT_PRICE": RejectReason.PRICE_FILTER,
    "PERCENT_PRICE_BY_SIDE": RejectReason.PRICE_FILTER,
    "LOT_SIZE": RejectReason.LOT_SIZE,
    "MARKET_LOT_SIZE": RejectReason.LOT_SIZE,
    "ICEBERG_PARTS": RejectReason.LOT_SIZE,
    "MIN_NOTIONAL": RejectReason.MIN_NOTIONAL,
    "NOTIONAL": RejectReason.MIN_NOTIONAL,
    "MAX_NUM_ORDERS": RejectReason.OTHER,
    "MAX_NUM_ALGO_ORDERS": RejectReason.OTHER,
    "EXCHANGE_MAX_NUM_ORDERS": RejectReason.OTHER,
    "EXCHANGE_MAX_NUM_ALGO_ORDERS": RejectReason.OTHER,
    "TRAILING_DELTA": RejectReason.INVALID_ORDER,
}
# Codes whose meaning does not depend on the message.
BY_CODE: Mapping[int, RejectReason] = {
    -1015: RejectReason.RATE_LIMITED,  # too many new orders (per account)
    -1121: RejectReason.UNKNOWN_SYMBOL,
    -2011: RejectReason.ORDER_NOT_AMENDABLE,  # cancel rejected: unknown or already closed
    -2021: RejectReason.ORDER_NOT_AMENDABLE,  # cancel-replace partly failed
    -2022: RejectReason.ORDER_NOT_AMENDABLE,  # cancel-replace failed
    -2038: RejectReason.ORDER_NOT_AMENDABLE,  # amend refused (no change, below executed, ...)
}
# The key itself refused: unknown, bad format, bad signature (or lacking a permission: the
# adapter tells the two apart by reading the account, see ``BinanceTradingAdapter``).
KEY_REFUSED = frozenset({-2014, -2015, -1022, -2008})


def reject_reason(code: int | None, msg: str) -> RejectReason:
    """The platform's reason for an order, cancel or amend Binance refused with ``code``."""
    if code == -2010:
        return NEW_ORDER_REJECTED.get(msg, RejectReason.OTHER)
    if code == -1013:
        name = msg.removeprefix("Filter failure: ").strip()
        if name != msg:
            return FILTER_FAILURES.get(name, RejectReason.OTHER)
        return RejectReason.INVALID_ORDER
    if code is not None and code in BY_CODE:
        return BY_CODE[code]
    if code is not None and -1199 <= code <= -1100:  # malformed or missing parameters
        return RejectReason.INVALID_ORDER
    return RejectReason.OTHER
