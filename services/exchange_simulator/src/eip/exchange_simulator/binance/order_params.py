"""Binance order parameters → the core's requests, checked as Binance checks them; shared by the
REST endpoints and the WebSocket API (both hand over a ``Ctx``).

- ``trailingDelta`` (BIPS) on STOP_LOSS(_LIMIT)/TAKE_PROFIT(_LIMIT) makes a trailing stop; its
  ``stopPrice``, if any, is the activation price; the delta must pass the symbol's
  TRAILING_DELTA filter (above: a buy stop-loss or sell take-profit; below: the others).
- ``selfTradePreventionMode``: one of the symbol's allowed modes, else the symbol's default.
- Order lists: ``orderList/oco`` (``aboveType``/``belowType`` …) and the deprecated
  ``order/oco`` (``price``, ``stopPrice``, ``stopLimitPrice`` …), both as an OCO of two legs
  that must sit on either side of the last price.
"""

from __future__ import annotations

from decimal import Decimal

from eip.exchange_simulator.binance import errors
from eip.exchange_simulator.binance.errors import BinanceError
from eip.exchange_simulator.binance.venue import Ctx
from eip.exchange_simulator.core.exchange import ListRequest, OrderRequest
from eip.exchange_simulator.core.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from eip.exchange_simulator.core.trailing import Offset, OffsetUnit, Trailing

RESP_TYPES = {"ACK", "RESULT", "FULL"}
# The simulated symbols' STP configuration (real BTCUSDT's, less DECREMENT and TRANSFER).
DEFAULT_STP = SelfTradePrevention.EXPIRE_MAKER
ALLOWED_STP = tuple(SelfTradePrevention)
BINANCE_STP_MODES = {"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER"}
# TRAILING_DELTA filter, in BIPS (real BTCUSDT's).
MIN_TRAILING_DELTA = 10
MAX_TRAILING_DELTA = 2000
_NEEDS_TIF = (OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT)
_ABOVE_TYPES = {"STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}
_BELOW_TYPES = _ABOVE_TYPES
BAD_PRICES = "The relationship of the prices for the orders is not correct."


def _side(raw: str) -> Side:
    try:
        return Side(raw)
    except ValueError:
        raise BinanceError(400, -1117, "Invalid side.") from None


def _type(raw: str) -> OrderType:
    try:
        return OrderType(raw)
    except ValueError:
        raise BinanceError(400, -1116, "Invalid orderType.") from None


def _tif(raw: str | None) -> TimeInForce | None:
    if raw is None:
        return None
    try:
        return TimeInForce(raw)
    except ValueError:
        raise BinanceError(400, -1115, "Invalid timeInForce.") from None


def self_trade_prevention(ctx: Ctx) -> SelfTradePrevention:
    raw = ctx.get("selfTradePreventionMode")
    if raw is None:
        return DEFAULT_STP
    if raw not in BINANCE_STP_MODES:
        raise errors.invalid("selfTradePreventionMode")
    if raw not in {m.value for m in ALLOWED_STP}:
        raise BinanceError(
            400, -1013, "This symbol does not allow the specified self-trade prevention mode."
        )
    return SelfTradePrevention(raw)


def trailing(
    ctx: Ctx,
    side: Side,
    order_type: OrderType,
    name: str = "trailingDelta",
    activation: Decimal | None = None,
) -> Trailing | None:
    """A trailing stop from ``trailingDelta`` (BIPS), with ``activation`` (the order's
    ``stopPrice``) as its activation price."""
    delta = ctx.integer(name)
    if delta is None:
        return None
    if not order_type.is_conditional:
        raise errors.not_required(name)
    if not MIN_TRAILING_DELTA <= delta <= MAX_TRAILING_DELTA:
        raise BinanceError(400, -1013, "Filter failure: TRAILING_DELTA")
    return Trailing(Offset(Decimal(delta), OffsetUnit.BPS), activation)


def client_id(ctx: Ctx, name: str) -> str | None:
    value = ctx.get(name)
    if value is not None and len(value) > 36:
        raise errors.invalid(name)
    return value


def parse_order(ctx: Ctx, prefix: str = "") -> tuple[OrderRequest, str]:
    """A new-order request from Binance parameters, checked as Binance checks them."""
    symbol = ctx.require("symbol")
    side = _side(ctx.require("side"))
    order_type = _type(ctx.require("type"))
    tif = _tif(ctx.get("timeInForce"))
    quantity = ctx.decimal("quantity")
    quote_qty = ctx.decimal("quoteOrderQty")
    price = ctx.decimal("price")
    stop = ctx.decimal("stopPrice")
    trail = trailing(ctx, side, order_type, activation=stop)
    if order_type in _NEEDS_TIF and tif is None:
        raise errors.mandatory("timeInForce")
    if order_type not in _NEEDS_TIF and tif is not None and order_type is not OrderType.LIMIT_MAKER:
        raise BinanceError(400, -1114, "TimeInForce parameter sent when not required.")
    if order_type is OrderType.MARKET:
        if quantity is None and quote_qty is None:
            raise errors.either("quantity", "quoteOrderQty")
        if quantity is not None and quote_qty is not None:
            raise BinanceError(400, -1128, "Combination of optional parameters invalid.")
        if price is not None:
            raise errors.not_required("price")
    else:
        if quantity is None:
            raise errors.mandatory("quantity")
        if quote_qty is not None:
            raise errors.not_required("quoteOrderQty")
    if order_type.has_limit_price and price is None:
        raise errors.mandatory("price")
    if not order_type.has_limit_price and order_type is not OrderType.MARKET and price is not None:
        raise errors.not_required("price")
    if order_type.is_conditional and stop is None and trail is None:
        raise errors.mandatory("stopPrice")
    if not order_type.is_conditional and stop is not None:
        raise errors.not_required("stopPrice")
    resp_type = ctx.get("newOrderRespType") or (
        "FULL" if order_type in (OrderType.MARKET, OrderType.LIMIT) else "ACK"
    )
    if resp_type not in RESP_TYPES:
        raise errors.invalid("newOrderRespType")
    request = OrderRequest(
        ctx.account_id,
        symbol,
        side,
        order_type,
        quantity,
        price,
        None if trail else stop,
        quote_qty,
        tif if order_type is not OrderType.LIMIT_MAKER else None,
        client_id(ctx, f"{prefix}newClientOrderId"),
        trail,
        self_trade_prevention(ctx),
    )
    return request, resp_type


def _leg(
    ctx: Ctx, name: str, side: Side, quantity: Decimal, stp: SelfTradePrevention
) -> OrderRequest:
    """One leg of ``orderList/oco``: ``aboveType``, ``abovePrice`` … (``name`` "above")."""
    raw_type = ctx.require(f"{name}Type")
    allowed = _ABOVE_TYPES if name == "above" else _BELOW_TYPES
    if raw_type not in allowed:
        raise errors.invalid(f"{name}Type")
    order_type = OrderType(raw_type)
    price = ctx.decimal(f"{name}Price")
    stop = ctx.decimal(f"{name}StopPrice")
    tif = _tif(ctx.get(f"{name}TimeInForce"))
    trail = trailing(ctx, side, order_type, f"{name}TrailingDelta", stop)
    if order_type.has_limit_price and price is None:
        raise errors.mandatory(f"{name}Price")
    if not order_type.has_limit_price and price is not None:
        raise errors.not_required(f"{name}Price")
    if order_type.is_conditional and stop is None and trail is None:
        raise errors.either(f"{name}StopPrice", f"{name}TrailingDelta")
    if not order_type.is_conditional and stop is not None:
        raise errors.not_required(f"{name}StopPrice")
    needs_tif = order_type in (OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT)
    if needs_tif and tif is None:
        raise errors.mandatory(f"{name}TimeInForce")
    return OrderRequest(
        ctx.account_id,
        ctx.require("symbol"),
        side,
        order_type,
        quantity,
        price,
        None if trail else stop,
        time_in_force=tif if needs_tif else None,
        client_order_id=client_id(ctx, f"{name}ClientOrderId"),
        trailing=trail,
        self_trade_prevention=stp,
    )


def parse_oco(ctx: Ctx) -> tuple[ListRequest, str]:
    """``POST /api/v3/orderList/oco``: legs below then above (Binance numbers them so)."""
    side = _side(ctx.require("side"))
    quantity = ctx.decimal("quantity", required=True)
    assert quantity is not None
    stp = self_trade_prevention(ctx)
    above = _leg(ctx, "above", side, quantity, stp)
    below = _leg(ctx, "below", side, quantity, stp)
    return ListRequest([below, above], client_id(ctx, "listClientOrderId")), _resp_type(ctx)


def parse_legacy_oco(ctx: Ctx) -> tuple[ListRequest, str]:
    """The deprecated ``POST /api/v3/order/oco``: a LIMIT_MAKER at ``price`` and a stop at
    ``stopPrice`` (STOP_LOSS_LIMIT at ``stopLimitPrice`` when given); stop leg first."""
    symbol = ctx.require("symbol")
    side = _side(ctx.require("side"))
    quantity = ctx.decimal("quantity", required=True)
    price = ctx.decimal("price", required=True)
    stop = ctx.decimal("stopPrice")
    stop_limit = ctx.decimal("stopLimitPrice")
    tif = _tif(ctx.get("stopLimitTimeInForce"))
    stp = self_trade_prevention(ctx)
    stop_type = OrderType.STOP_LOSS_LIMIT if stop_limit is not None else OrderType.STOP_LOSS
    trail = trailing(ctx, side, stop_type, activation=stop)
    if stop is None and trail is None:
        raise errors.mandatory("stopPrice")
    if stop_limit is not None and tif is None:
        raise errors.mandatory("stopLimitTimeInForce")
    if stop_limit is None and tif is not None:
        raise errors.not_required("stopLimitTimeInForce")
    limit_leg = OrderRequest(
        ctx.account_id,
        symbol,
        side,
        OrderType.LIMIT_MAKER,
        quantity,
        price,
        client_order_id=client_id(ctx, "limitClientOrderId"),
        self_trade_prevention=stp,
    )
    stop_leg = OrderRequest(
        ctx.account_id,
        symbol,
        side,
        stop_type,
        quantity,
        stop_limit,
        None if trail else stop,
        time_in_force=tif,
        client_order_id=client_id(ctx, "stopClientOrderId"),
        trailing=trail,
        self_trade_prevention=stp,
    )
    request = ListRequest([stop_leg, limit_leg], client_id(ctx, "listClientOrderId"))
    return request, _resp_type(ctx)


def _resp_type(ctx: Ctx) -> str:
    resp_type = ctx.get("newOrderRespType") or "RESULT"
    if resp_type not in RESP_TYPES:
        raise errors.invalid("newOrderRespType")
    return resp_type


def check_oco_prices(request: ListRequest, last: Decimal | None) -> None:
    """Binance's OCO rule: a sell's take-profit leg above the last price and its stop-loss leg
    below it; a buy the other way round (by limit price, or trigger for market legs)."""
    if last is None:
        return
    for leg in request.legs:
        level = (
            leg.price
            if leg.type in (OrderType.LIMIT_MAKER, OrderType.TAKE_PROFIT_LIMIT)
            else (
                leg.stop_price
                if leg.stop_price is not None
                else (leg.trailing.activation_price if leg.trailing else None)
            )
        )
        if level is None:
            continue
        profit = leg.type in (
            OrderType.LIMIT_MAKER,
            OrderType.TAKE_PROFIT,
            OrderType.TAKE_PROFIT_LIMIT,
        )
        wants_above = profit is (leg.side is Side.SELL)
        if (level <= last) if wants_above else (level >= last):
            raise BinanceError(400, -2010, BAD_PRICES)
