"""Coinbase Advanced Trade's trading messages in the platform's vocabulary: order
configurations built from an ``OrderRequest``; orders (REST and the ``user`` channel), fills,
accounts and products parsed; Coinbase's refusals as ``RejectReason``.

What is subtle:

- **Sizes.** An order's base size is in its ``order_configuration`` (REST); the ``user``
  channel gives only ``cumulative_quantity`` and ``leaves_quantity``, and a closed order's
  leaves are zero — so the size of a closed order comes from what the adapter knew of it
  (``known_size``), else from what filled.
- **Statuses.** Coinbase says ``OPEN`` for resting, partly filled and waiting-for-trigger
  orders alike: filled size and ``trigger_status`` (``STOP_PENDING``) tell them apart.
  ``CANCELLED`` is also where an IOC, FOK or market remainder ends (the simulator, as
  Coinbase) — the platform's ``canceled``.
- **Stops.** Coinbase has one conditional order, the stop-limit, with a direction: a sell
  ``STOP_DOWN`` is a stop-loss, a sell ``STOP_UP`` a take-profit (a buy the other way round).
  The ``user`` channel does not carry the direction: a stop's type there is what the adapter
  knew of the order, else ``stop_limit``.
- **Refusals.** An order Coinbase will not place is HTTP 200 with ``success: false`` and an
  ``error_response``; ``REJECTIONS`` maps its ``preview_failure_reason`` first (the precise
  one), then its ``error``.
- **Fees.** Coinbase reports a fill's ``commission`` in the quote currency (the simulator too,
  converting what the core took in the base asset at the fill price).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from eip.exchanges.coinbase.assets import ASSET_CODES
from eip.exchanges.contract.errors import NotSupported, OrderRejected, RejectReason
from eip.exchanges.contract.trading import (
    AssetBalance,
    ClientOrderIdRules,
    InstrumentRules,
    OrderRequest,
    OrderSide,
    OrderType,
    TimeInForce,
    VenueFill,
    VenueOrder,
    VenueOrderStatus,
)

EXCHANGE = "coinbase"
ZERO = Decimal(0)
STOP_UP = "STOP_DIRECTION_STOP_UP"
STOP_DOWN = "STOP_DIRECTION_STOP_DOWN"

# Coinbase takes any string up to 128 characters; the platform sends a UUID (what Coinbase's
# own clients send), so an id is valid anywhere it may be echoed.
CLIENT_ORDER_IDS = ClientOrderIdRules(max_length=36, alphabet="0-9a-f-", kind="uuid")

# preview_failure_reason, then error / new_order_failure_reason / edit_failure_reason.
REJECTIONS: Mapping[str, RejectReason] = {
    "PREVIEW_INSUFFICIENT_FUND": RejectReason.INSUFFICIENT_FUNDS,
    "INSUFFICIENT_FUND": RejectReason.INSUFFICIENT_FUNDS,
    "INSUFFICIENT_FUNDS": RejectReason.INSUFFICIENT_FUNDS,
    "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY": RejectReason.POST_ONLY_WOULD_TAKE,
    "INVALID_LIMIT_PRICE_POST_ONLY": RejectReason.POST_ONLY_WOULD_TAKE,
    "PREVIEW_INVALID_PRICE_PRECISION": RejectReason.PRICE_FILTER,
    "INVALID_PRICE_PRECISION": RejectReason.PRICE_FILTER,
    "PREVIEW_INVALID_LIMIT_PRICE": RejectReason.PRICE_FILTER,
    "INVALID_LIMIT_PRICE": RejectReason.PRICE_FILTER,
    "PREVIEW_INVALID_STOP_PRICE": RejectReason.PRICE_FILTER,
    "PREVIEW_STOP_PRICE_ABOVE_LAST_TRADE_PRICE": RejectReason.PRICE_FILTER,
    "PREVIEW_STOP_PRICE_BELOW_LAST_TRADE_PRICE": RejectReason.PRICE_FILTER,
    "INVALID_EDITED_PRICE": RejectReason.PRICE_FILTER,
    "PREVIEW_INVALID_SIZE_PRECISION": RejectReason.LOT_SIZE,
    "INVALID_SIZE_PRECISION": RejectReason.LOT_SIZE,
    "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL": RejectReason.LOT_SIZE,
    "PREVIEW_INVALID_BASE_SIZE_TOO_LARGE": RejectReason.LOT_SIZE,
    "INVALID_EDITED_SIZE": RejectReason.LOT_SIZE,
    "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL": RejectReason.MIN_NOTIONAL,
    "PREVIEW_INVALID_QUOTE_SIZE_TOO_LARGE": RejectReason.MIN_NOTIONAL,
    "PREVIEW_INVALID_QUOTE_SIZE_PRECISION": RejectReason.PRICE_FILTER,
    "ORDER_ENTRY_DISABLED": RejectReason.MARKET_CLOSED,
    "PREVIEW_ORDER_ENTRY_DISABLED": RejectReason.MARKET_CLOSED,
    "INVALID_PRODUCT_ID": RejectReason.UNKNOWN_SYMBOL,
    "UNSUPPORTED_ORDER_CONFIGURATION": RejectReason.INVALID_ORDER,
    "INVALID_SIDE": RejectReason.INVALID_ORDER,
    "PREVIEW_INVALID_END_TIME": RejectReason.INVALID_ORDER,
    "ONLY_OPEN_ORDERS_CAN_BE_EDITED": RejectReason.ORDER_NOT_AMENDABLE,
    "ONLY_LIMIT_ORDER_EDITS_SUPPORTED": RejectReason.ORDER_NOT_AMENDABLE,
    "CANNOT_EDIT_TO_BELOW_FILLED_SIZE": RejectReason.ORDER_NOT_AMENDABLE,
    "PREVIEW_RATE_LIMIT_EXCEEDED": RejectReason.RATE_LIMITED,
    "RATE_LIMIT_EXCEEDED": RejectReason.RATE_LIMITED,
}
_UNINFORMATIVE = {"UNKNOWN_PREVIEW_FAILURE_REASON", "UNKNOWN_FAILURE_REASON", ""}


def reject_reason(*codes: str | None) -> tuple[RejectReason, str]:
    """The first code that says something, mapped; (OTHER, the first informative code) when
    none is known — the code is kept for the audit trail and for adding it here."""
    informative = [c for c in codes if c and c not in _UNINFORMATIVE]
    for code in informative:
        if code in REJECTIONS:
            return REJECTIONS[code], code
    return RejectReason.OTHER, informative[0] if informative else "UNKNOWN_FAILURE_REASON"


def refusal(error_response: Mapping[str, Any]) -> OrderRejected:
    """A ``success: false`` placement as the platform's rejection."""
    reason, code = reject_reason(
        error_response.get("preview_failure_reason"),
        error_response.get("error"),
        error_response.get("new_order_failure_reason"),
    )
    message = str(error_response.get("message") or error_response.get("error_details") or code)
    return OrderRejected(EXCHANGE, reason, message, venue_code=code)


# -- numbers and times -------------------------------------------------------------------------


def wire_decimal(value: Decimal) -> str:
    """Plain digits, as Coinbase wants amounts (no exponent)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def dec(value: Any) -> Decimal | None:
    """A decimal string, or None for Coinbase's empty or absent amounts."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a decimal: {value!r}") from None


def when(value: Any) -> datetime | None:
    """An RFC 3339 time (nanoseconds cut to microseconds); None for Coinbase's zero time."""
    if not value or not isinstance(value, str) or value.startswith("0001-01-01"):
        return None
    text = value.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text).astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- symbols and rules -------------------------------------------------------------------------


def symbol_of(product: Mapping[str, Any]) -> str:
    base = product.get("base_currency_id") or product.get("base_display_symbol")
    quote = product.get("quote_currency_id") or product.get("quote_display_symbol")
    if not base or not quote:
        base, _, quote = str(product["product_id"]).partition("-")
    return f"{base}/{quote}"


ORDER_TYPES = frozenset(
    {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT}
)
TIME_IN_FORCE = frozenset({TimeInForce.GTC, TimeInForce.GTD, TimeInForce.IOC, TimeInForce.FOK})


def instrument_rules(product: Mapping[str, Any]) -> InstrumentRules:
    symbol = symbol_of(product)
    base, _, quote = symbol.partition("/")
    tradable = (
        not product.get("trading_disabled")
        and not product.get("is_disabled")
        and not product.get("cancel_only")
        and product.get("status", "online") == "online"
    )
    return InstrumentRules(
        symbol=symbol,
        base=base,
        quote=quote,
        tick_size=Decimal(product.get("price_increment") or product["quote_increment"]),
        lot_size=Decimal(product["base_increment"]),
        min_quantity=Decimal(product["base_min_size"]),
        max_quantity=dec(product.get("base_max_size")),
        min_notional=dec(product.get("quote_min_size")),
        max_notional=dec(product.get("quote_max_size")),
        order_types=ORDER_TYPES,
        time_in_force=TIME_IN_FORCE,
        post_only=True,
        quote_quantity_market=True,
        trading=tradable,
        amend=True,
        oco=False,
    )


# -- requests ----------------------------------------------------------------------------------


def _stop_direction(request: OrderRequest) -> str:
    loss = request.type is OrderType.STOP_LIMIT
    # a sell stop-loss triggers on the way down, a sell take-profit on the way up
    return STOP_DOWN if (request.side == "sell") == loss else STOP_UP


def order_configuration(request: OrderRequest) -> dict[str, dict[str, Any]]:
    """``order_configuration`` for a request; ``NotSupported`` for what Coinbase has no
    native form of (stop-market, take-profit-market, trailing stops: emulated by the
    platform), ``OrderRejected(INVALID_ORDER)`` for a request that does not add up."""

    def invalid(message: str) -> OrderRejected:
        return OrderRejected(EXCHANGE, RejectReason.INVALID_ORDER, message)

    if request.reduce_only:
        raise invalid("Coinbase spot has no reduce-only orders")
    size = None if request.quantity is None else wire_decimal(request.quantity)
    if request.type is OrderType.MARKET:
        if (request.quantity is None) == (request.quote_quantity is None):
            raise invalid("a market order is sized by exactly one of quantity and quote_quantity")
        if request.quote_quantity is not None:
            return {"market_market_ioc": {"quote_size": wire_decimal(request.quote_quantity)}}
        return {"market_market_ioc": {"base_size": size}}
    if request.type not in ORDER_TYPES:
        raise NotSupported(
            EXCHANGE, f"Coinbase has no native {request.type.value} order: the platform emulates it"
        )
    if size is None or request.price is None:
        raise invalid(f"a {request.type.value} order needs a quantity and a price")
    if request.quote_quantity is not None:
        raise invalid("only market orders are sized in quote")
    price = wire_decimal(request.price)
    tif = request.time_in_force
    end: dict[str, str] = {}
    if tif is TimeInForce.GTD:
        if request.expire_time is None:
            raise invalid("a GTD order needs an expire_time")
        end = {"end_time": rfc3339(request.expire_time)}
    elif request.expire_time is not None:
        raise invalid("expire_time is for GTD orders only")
    if request.type is OrderType.LIMIT:
        if request.post_only and tif not in (TimeInForce.GTC, TimeInForce.GTD):
            raise invalid("post-only orders rest: GTC or GTD")
        if tif is TimeInForce.IOC:
            return {"sor_limit_ioc": {"base_size": size, "limit_price": price}}
        if tif is TimeInForce.FOK:
            return {"limit_limit_fok": {"base_size": size, "limit_price": price}}
        gtx = "gtd" if tif is TimeInForce.GTD else "gtc"
        body = {"base_size": size, "limit_price": price, "post_only": request.post_only, **end}
        return {f"limit_limit_{gtx}": body}
    # stop-loss-limit / take-profit-limit: a stop-limit with a direction
    if request.stop_price is None:
        raise invalid(f"a {request.type.value} order needs a stop_price")
    if tif not in (TimeInForce.GTC, TimeInForce.GTD) or request.post_only:
        raise invalid("Coinbase stop-limit orders are GTC or GTD, never post-only")
    gtx = "gtd" if tif is TimeInForce.GTD else "gtc"
    stop = {
        "base_size": size,
        "limit_price": price,
        "stop_price": wire_decimal(request.stop_price),
        "stop_direction": _stop_direction(request),
        **end,
    }
    return {f"stop_limit_stop_limit_{gtx}": stop}


# -- orders ------------------------------------------------------------------------------------


_TIF = {
    "GOOD_UNTIL_CANCELLED": TimeInForce.GTC,
    "GOOD_UNTIL_DATE_TIME": TimeInForce.GTD,
    "IMMEDIATE_OR_CANCEL": TimeInForce.IOC,
    "FILL_OR_KILL": TimeInForce.FOK,
}


def _status(raw: str, filled: Decimal, trigger_status: str | None) -> VenueOrderStatus:
    raw = raw.upper()
    if raw in ("OPEN", "PENDING", "QUEUED", "CANCEL_QUEUED", "EDIT_QUEUED"):
        if trigger_status == "STOP_PENDING":
            return VenueOrderStatus.UNTRIGGERED
        return VenueOrderStatus.PARTIALLY_FILLED if filled > 0 else VenueOrderStatus.OPEN
    if raw == "FILLED":
        return VenueOrderStatus.FILLED
    if raw == "CANCELLED":
        return VenueOrderStatus.CANCELED
    if raw == "EXPIRED":
        return VenueOrderStatus.EXPIRED
    if raw in ("FAILED", "REJECTED"):
        return VenueOrderStatus.REJECTED
    raise ValueError(f"unknown Coinbase order status {raw!r}")


def _side(raw: Any) -> OrderSide:
    side = str(raw).lower()
    if side not in ("buy", "sell"):
        raise ValueError(f"unknown side {raw!r}")
    return "buy" if side == "buy" else "sell"


def _configured(configuration: Mapping[str, Any], side: OrderSide) -> dict[str, Any]:
    """Type, size, prices and time in force from an ``order_configuration``."""
    (name, body), *_ = configuration.items()
    found: dict[str, Any] = {
        "quantity": dec(body.get("base_size")),
        "price": dec(body.get("limit_price")),
        "stop_price": dec(body.get("stop_price") or body.get("stop_trigger_price")),
    }
    if name.startswith("market"):
        found["type"] = OrderType.MARKET
    elif name.startswith("stop_limit"):
        up = body.get("stop_direction") == STOP_UP
        loss = up == (side == "buy")  # a buy stop-loss triggers on the way up
        found["type"] = OrderType.STOP_LIMIT if loss else OrderType.TAKE_PROFIT_LIMIT
    else:  # limit_*, sor_limit_ioc, trigger_bracket_* (its take-profit leg is a limit)
        found["type"] = OrderType.LIMIT
    return found


def order(
    body: Mapping[str, Any], symbols: Mapping[str, str], sequence: int | None = None
) -> VenueOrder:
    """An order as ``orders/historical/*`` returns it."""
    side = _side(body["side"])
    configured = _configured(body.get("order_configuration") or {"limit": {}}, side)
    filled = dec(body.get("filled_size")) or ZERO
    average = dec(body.get("average_filled_price"))
    return VenueOrder(
        exchange=EXCHANGE,
        symbol=symbols[body["product_id"]],
        venue_order_id=str(body["order_id"]),
        client_order_id=body.get("client_order_id") or None,
        side=side,
        type=configured["type"],
        status=_status(str(body["status"]), filled, body.get("trigger_status")),
        quantity=configured["quantity"],
        filled_quantity=filled,
        price=configured["price"],
        stop_price=configured["stop_price"],
        average_price=average if filled > 0 and average else None,
        time_in_force=_TIF.get(str(body.get("time_in_force"))),
        created_time=when(body.get("created_time")),
        updated_time=when(body.get("last_fill_time")),
        sequence=sequence,
        reason=(body.get("cancel_message") or body.get("reject_message") or None),
    )


_WS_TYPES = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop limit": OrderType.STOP_LIMIT,
    "stop_limit": OrderType.STOP_LIMIT,
    "bracket": OrderType.LIMIT,
}


def user_order(
    body: Mapping[str, Any],
    symbols: Mapping[str, str],
    sequence: int,
    known_size: Decimal | None,
    known_type: OrderType | None,
    received: datetime,
) -> VenueOrder:
    """An order as the ``user`` channel sends it. ``known_size`` / ``known_type``: what the
    adapter knew of the order (the channel gives no size for a closed order, no stop
    direction)."""
    side = _side(body["order_side"])
    filled = dec(body.get("cumulative_quantity")) or ZERO
    leaves = dec(body.get("leaves_quantity")) or ZERO
    status = _status(str(body["status"]), filled, body.get("trigger_status"))
    raw_type = str(body.get("order_type", "")).lower()
    kind = _WS_TYPES.get(raw_type, OrderType.LIMIT)
    if kind is OrderType.STOP_LIMIT and known_type is OrderType.TAKE_PROFIT_LIMIT:
        kind = known_type
    if status.is_open:
        quantity: Decimal | None = filled + leaves
    elif known_size is not None:
        quantity = known_size
    else:
        quantity = filled if status is VenueOrderStatus.FILLED else None
    if kind is OrderType.MARKET and known_size is None and not status.is_open:
        quantity = filled  # a market order sized in quote: its size is what it bought
    average = dec(body.get("avg_price"))
    return VenueOrder(
        exchange=EXCHANGE,
        symbol=symbols[body["product_id"]],
        venue_order_id=str(body["order_id"]),
        client_order_id=body.get("client_order_id") or None,
        side=side,
        type=kind,
        status=status,
        quantity=quantity,
        filled_quantity=filled,
        price=dec(body.get("limit_price")),
        stop_price=dec(body.get("stop_price")),
        average_price=average if filled > 0 and average else None,
        time_in_force=_TIF.get(str(body.get("time_in_force"))),
        created_time=when(body.get("creation_time")),
        updated_time=received,
        sequence=sequence,
        reason=body.get("cancel_reason") or body.get("reject_reason") or None,
    )


def fill(
    body: Mapping[str, Any], symbols: Mapping[str, str], client_ids: Mapping[str, str]
) -> VenueFill:
    """One entry of ``orders/historical/fills`` (one side of a trade)."""
    symbol = symbols[body["product_id"]]
    order_id = str(body["order_id"])
    time = when(body.get("trade_time") or body.get("sequence_timestamp"))
    if time is None:
        raise ValueError("a fill without a time")
    liquidity = str(body.get("liquidity_indicator", "")).upper()
    return VenueFill(
        exchange=EXCHANGE,
        symbol=symbol,
        trade_id=str(body["trade_id"]),
        venue_order_id=order_id,
        client_order_id=client_ids.get(order_id),
        side=_side(body["side"]),
        price=Decimal(body["price"]),
        quantity=Decimal(body["size"]),
        fee=dec(body.get("commission")) or ZERO,
        fee_asset=symbol.partition("/")[2],  # Coinbase reports fees in the quote currency
        liquidity="maker" if liquidity == "MAKER" else "taker" if liquidity == "TAKER" else None,
        time=time,
    )


def balances(accounts: Sequence[Mapping[str, Any]]) -> list[AssetBalance]:
    """One ``accounts`` entry per currency: ``available_balance`` free, ``hold`` locked; codes
    through the one table of balance codes (``coinbase.assets``)."""
    out = []
    for account in accounts:
        code = ASSET_CODES.balance_asset(str(account["currency"]))
        free = dec((account.get("available_balance") or {}).get("value")) or ZERO
        held = dec((account.get("hold") or {}).get("value")) or ZERO
        out.append(AssetBalance(code.asset, free * code.scale, held * code.scale, code.wallet))
    return out
