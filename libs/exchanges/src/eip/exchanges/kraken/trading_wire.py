"""Kraken spot trading payloads ↔ the trading contract: ``AddOrder`` parameters out; REST order
entries, trades, ``BalanceEx``, ``AssetPairs`` and WebSocket v2 ``executions`` in; Kraken's
error strings as reject reasons.

Numbers arrive as strings (REST) or JSON numbers (WebSocket v2), both decoded as ``Decimal``
(``rest.decode``). Subtle spellings:

- **Names.** REST speaks Kraken's asset ids and pair keys (``XXBT``, ``XBTUSDT``, ``XXBTZUSD``);
  WebSocket v2 the common codes (``BTC``, ``BTC/USDT``). Both normalize to ``BTC/USDT``.
- **Trade ids.** A fill has a txid of its own (``TKH2SE-…``, one per side) and the pair's
  public ``trade_id`` (both sides share it): ``VenueFill.trade_id`` is the latter, as on every
  venue, so the two sides of one trade carry one id.
- **Fees.** ``TradesHistory`` gives every fee *in the quote currency* (a fee taken in the base
  asset valued at the fill's price, as Kraken documents the field); the order's ``oflags`` say
  where it was really taken (``fcib``: the base asset). ``trade`` turns it back into the asset
  charged, so a fill from REST and the same fill from the stream (``fees: [{asset, qty}]``)
  agree.
- **Order of updates.** REST orders carry their open and close times (seconds with decimals),
  stream events an RFC 3339 time with microseconds: ``VenueOrder.sequence`` is that time in
  microseconds for both (the stream's own ``sequence`` counts per connection and restarts with
  it, so it cannot order one order's updates across a reconnect).
- **Untriggered.** Neither REST nor the stream says when a stop was triggered; a conditional
  order is ``UNTRIGGERED`` while it is open with nothing filled (a stop-limit triggered and
  resting unfilled reads as untriggered too).
- **Time in force** is not in REST order entries: ``None`` there unless the adapter placed it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eip.exchanges.contract.errors import BadRequest, NotSupported, OrderRejected, RejectReason
from eip.exchanges.contract.symbols import normalize_asset
from eip.exchanges.contract.trading import (
    AssetBalance,
    ClientOrderIdRules,
    InstrumentRules,
    OrderRequest,
    OrderType,
    TimeInForce,
    TrailingOffset,
    VenueFill,
    VenueOrder,
    VenueOrderStatus,
)
from eip.exchanges.kraken.assets import ASSET_CODES

EXCHANGE = "kraken"
# cl_ord_id: a UUID, or free text of up to 18 characters; the platform's are alphanumeric.
CLIENT_ORDER_IDS = ClientOrderIdRules(max_length=18, alphabet="A-Za-z0-9")
ZERO = Decimal(0)
FEE_PLACES = Decimal("1e-8")  # Kraken's volume precision

_TYPE_OUT: Mapping[OrderType, str] = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP_MARKET: "stop-loss",
    OrderType.STOP_LIMIT: "stop-loss-limit",
    OrderType.TAKE_PROFIT_MARKET: "take-profit",
    OrderType.TAKE_PROFIT_LIMIT: "take-profit-limit",
    OrderType.TRAILING_STOP_MARKET: "trailing-stop",
    OrderType.TRAILING_STOP_LIMIT: "trailing-stop-limit",
}
_TYPE_IN: Mapping[str, OrderType] = {name: kind for kind, name in _TYPE_OUT.items()}
# A trailing stop-limit's limit is an offset from the level that fired it on Kraken, not a
# price: the contract's absolute limit price has no native form.
ORDER_TYPES = frozenset(_TYPE_OUT) - {OrderType.TRAILING_STOP_LIMIT}

_REST_STATUS: Mapping[str, VenueOrderStatus] = {
    "pending": VenueOrderStatus.OPEN,
    "open": VenueOrderStatus.OPEN,
    "closed": VenueOrderStatus.FILLED,
    "canceled": VenueOrderStatus.CANCELED,
    "expired": VenueOrderStatus.EXPIRED,
}
_WS_STATUS: Mapping[str, VenueOrderStatus] = {
    "pending_new": VenueOrderStatus.OPEN,
    "new": VenueOrderStatus.OPEN,
    "partially_filled": VenueOrderStatus.PARTIALLY_FILLED,
    "filled": VenueOrderStatus.FILLED,
    "canceled": VenueOrderStatus.CANCELED,
    "expired": VenueOrderStatus.EXPIRED,
}
_TIF: Mapping[str, TimeInForce] = {
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "GTD": TimeInForce.GTD,
}


def dec(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a decimal, got {value!r}")
    return Decimal(value)


def wire_decimal(value: Decimal) -> str:
    """A plain decimal string (never an exponent)."""
    if not value.is_finite():
        raise BadRequest(EXCHANGE, f"not a finite number: {value}")
    return format(value.normalize(), "f")


def seconds_to_utc(value: Any) -> datetime:
    return datetime.fromtimestamp(float(dec(value)), tz=UTC)


def seconds_to_us(value: Any) -> int:
    return int(dec(value) * 1_000_000)


def rfc3339_to_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def us_of(when: datetime) -> int:
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def ws_symbol(name: str) -> str:
    """``BTC/USDT`` (v2) or ``XBT/USDT`` → the platform's ``BTC/USDT``."""
    base, _, quote = name.partition("/")
    if not quote:
        raise ValueError(f"not a v2 symbol: {name!r}")
    return f"{normalize_asset(base)}/{normalize_asset(quote)}"


# -- requests ------------------------------------------------------------------------------------


def _trailing_text(offset: TrailingOffset | None) -> str:
    """``price`` of a trailing stop: ``+50`` (a price distance) or ``+1%`` (100 bps)."""
    if offset is None:
        raise OrderRejected(
            EXCHANGE, RejectReason.INVALID_ORDER, "a trailing stop needs its offset"
        )
    if offset.value <= 0:
        raise OrderRejected(EXCHANGE, RejectReason.INVALID_ORDER, "a trailing offset is positive")
    if offset.unit == "bps":
        return f"+{wire_decimal(offset.value / 100)}%"
    return f"+{wire_decimal(offset.value)}"


def order_params(request: OrderRequest, pair: str) -> dict[str, str]:
    """``AddOrder`` parameters for ``request`` on the pair named ``pair`` (its altname);
    ``OrderRejected(INVALID_ORDER)`` or ``NotSupported`` for what Kraken cannot take, before
    anything is sent."""

    def refuse(message: str) -> OrderRejected:
        return OrderRejected(EXCHANGE, RejectReason.INVALID_ORDER, message)

    if request.reduce_only:
        raise refuse("reduce-only is for margin positions; Kraken spot has none")
    params: dict[str, str] = {
        "pair": pair,
        "type": request.side,
        "ordertype": _TYPE_OUT[request.type],
        "cl_ord_id": request.client_order_id,
    }
    flags: list[str] = []
    if request.post_only:
        if request.type is not OrderType.LIMIT:
            raise refuse("post-only is for limit orders")
        if request.time_in_force is not TimeInForce.GTC:
            raise refuse("a post-only order rests: it is good till cancelled")
        flags.append("post")
    if request.type is OrderType.MARKET:
        if (request.quantity is None) == (request.quote_quantity is None):
            raise refuse("a market order has a quantity or a quote quantity, not both")
        if request.quote_quantity is not None:
            if request.side != "buy":
                raise refuse("Kraken sizes only market buys in the quote asset")
            flags.append("viqc")
            params["volume"] = wire_decimal(request.quote_quantity)
    elif request.quote_quantity is not None:
        raise refuse("only market orders are sized in the quote asset")
    if request.quantity is not None:
        params["volume"] = wire_decimal(request.quantity)
    elif request.type is not OrderType.MARKET:
        raise refuse(f"a {request.type.value} order needs a quantity")

    if request.type.is_trailing:
        if request.stop_price is not None:
            raise NotSupported(
                EXCHANGE, "Kraken's trailing stops trail from placement: no activation price"
            )
        params["price"] = _trailing_text(request.trailing)
        if request.type is OrderType.TRAILING_STOP_LIMIT:
            if request.price is None:
                raise refuse("a trailing stop-limit needs its limit price")
            raise NotSupported(
                EXCHANGE,
                "Kraken's trailing stop-limit takes its limit as an offset from the trigger",
            )
    elif request.trailing is not None:
        raise refuse(f"a {request.type.value} order does not trail")
    elif request.type.is_conditional:
        if request.stop_price is None:
            raise refuse(f"a {request.type.value} order needs a stop price")
        params["price"] = wire_decimal(request.stop_price)
        if request.type.has_limit_price:
            if request.price is None:
                raise refuse(f"a {request.type.value} order needs a price")
            params["price2"] = wire_decimal(request.price)
        elif request.price is not None:
            raise refuse(f"a {request.type.value} order takes no price")
    else:
        if request.stop_price is not None:
            raise refuse(f"a {request.type.value} order takes no stop price")
        if request.type is OrderType.LIMIT:
            if request.price is None:
                raise refuse("a limit order needs a price")
            params["price"] = wire_decimal(request.price)
        elif request.price is not None:
            raise refuse("a market order takes no price")

    tif = request.time_in_force
    if tif is TimeInForce.FOK:
        raise refuse("Kraken spot has no fill-or-kill")
    if tif is TimeInForce.GTD:
        if request.expire_time is None:
            raise refuse("a good-till-date order needs its expire time")
        params["expiretm"] = str(int(request.expire_time.timestamp()))
    elif request.expire_time is not None:
        raise refuse("an expire time is for good-till-date orders")
    if tif is not TimeInForce.GTC:
        if not request.type.has_limit_price:
            raise refuse(f"a {request.type.value} order takes no time in force")
        params["timeinforce"] = tif.value.upper()
    if flags:
        params["oflags"] = ",".join(flags)
    return params


# -- orders and fills ----------------------------------------------------------------------------


def _positive(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        number = dec(value)
    except (ValueError, ArithmeticError):
        return None  # a relative price as sent ("+1%"): not a price
    return number if number > 0 else None


def _flags(raw: Mapping[str, Any]) -> set[str]:
    return {f for f in str(raw.get("oflags") or "").split(",") if f}


def order(
    txid: str,
    raw: Mapping[str, Any],
    symbols: Mapping[str, str],
    time_in_force: TimeInForce | None = None,
) -> VenueOrder:
    """An entry of ``OpenOrders``, ``ClosedOrders`` or ``QueryOrders``; ``symbols`` maps pair
    altnames and keys to platform symbols."""
    descr = raw["descr"]
    kind = _TYPE_IN.get(descr["ordertype"])
    if kind is None:
        raise ValueError(f"unsupported Kraken order type {descr['ordertype']!r}")
    filled = dec(raw["vol_exec"])
    status = _REST_STATUS.get(raw["status"])
    if status is None:
        raise ValueError(f"unknown Kraken order status {raw['status']!r}")
    if status is VenueOrderStatus.OPEN:
        if filled > 0:
            status = VenueOrderStatus.PARTIALLY_FILLED
        elif kind.is_conditional:
            status = VenueOrderStatus.UNTRIGGERED
    quote_sized = "viqc" in _flags(raw)
    if kind.is_conditional:
        price = _positive(raw.get("limitprice")) or _positive(descr.get("price2"))
        stop = _positive(raw.get("stopprice")) or _positive(descr.get("price"))
    else:
        price = _positive(descr.get("price")) if kind is OrderType.LIMIT else None
        stop = None
    opened = raw.get("opentm")
    closed = raw.get("closetm")
    updated = closed if closed is not None else opened
    return VenueOrder(
        exchange=EXCHANGE,
        symbol=symbols[descr["pair"]],
        venue_order_id=txid,
        client_order_id=raw.get("cl_ord_id") or None,
        side="buy" if descr["type"] == "buy" else "sell",
        type=kind,
        status=status,
        quantity=None if quote_sized else dec(raw["vol"]),
        filled_quantity=filled,
        price=price if kind.has_limit_price else None,
        stop_price=stop,
        average_price=_positive(raw.get("price")) if filled > 0 else None,
        time_in_force=time_in_force,
        created_time=seconds_to_utc(opened) if opened is not None else None,
        updated_time=seconds_to_utc(updated) if updated is not None else None,
        sequence=seconds_to_us(updated) if updated is not None else None,
        reason=raw.get("reason") or None,
    )


def fee_in_base(raw_order: Mapping[str, Any]) -> bool:
    """Whether the order's fee is taken in the base asset (``fcib``)."""
    return "fcib" in _flags(raw_order)


def trade(
    txid: str,
    raw: Mapping[str, Any],
    symbols: Mapping[str, str],
    client_order_id: str | None,
    base_fee: bool,
) -> VenueFill:
    """A ``TradesHistory`` / ``QueryTrades`` row (keyed by ``txid``). ``base_fee``: the order
    paid its fee in the base asset (its quote value is what the row says)."""
    symbol = symbols[raw["pair"]]
    base, _, quote = symbol.partition("/")
    price = dec(raw["price"])
    fee = dec(raw["fee"])
    if base_fee and price > 0:
        fee = (fee / price).quantize(FEE_PLACES).normalize()
    trade_id = raw.get("trade_id")
    return VenueFill(
        exchange=EXCHANGE,
        symbol=symbol,
        trade_id=str(trade_id) if trade_id is not None else txid,
        venue_order_id=str(raw["ordertxid"]),
        client_order_id=client_order_id,
        side="buy" if raw["type"] == "buy" else "sell",
        price=price,
        quantity=dec(raw["vol"]),
        fee=fee,
        fee_asset=base if base_fee else quote,
        liquidity=("maker" if raw["maker"] else "taker") if "maker" in raw else None,
        time=seconds_to_utc(raw["time"]),
    )


def execution(
    item: Mapping[str, Any], previous: VenueOrder | None
) -> tuple[VenueOrder | None, VenueFill | None]:
    """One ``executions`` item applied to what the order was (``previous``): the order as it
    stands after it, and the fill it reports (``exec_type`` trade). ``(None, None)`` when the
    item is about an order not known here and carries too little to build it (the caller reads
    it over REST and applies the item again)."""
    order_id = str(item["order_id"])
    when = rfc3339_to_utc(item["timestamp"])
    base = previous
    if base is None:
        if not {"symbol", "side", "order_type"} <= item.keys():
            return None, None
        kind = _TYPE_IN.get(item["order_type"])
        if kind is None:
            raise ValueError(f"unsupported Kraken order type {item['order_type']!r}")
        base = VenueOrder(
            exchange=EXCHANGE,
            symbol=ws_symbol(item["symbol"]),
            venue_order_id=order_id,
            client_order_id=None,
            side="buy" if item["side"] == "buy" else "sell",
            type=kind,
            status=VenueOrderStatus.OPEN,
            quantity=None,
            filled_quantity=ZERO,
            created_time=when,
        )
    changes: dict[str, Any] = {"updated_time": when, "sequence": us_of(when)}
    if item.get("cl_ord_id"):
        changes["client_order_id"] = item["cl_ord_id"]
    if "order_qty" in item:
        changes["quantity"] = dec(item["order_qty"])
    if "limit_price" in item and base.type.has_limit_price:
        changes["price"] = dec(item["limit_price"])
    if isinstance(item.get("time_in_force"), str):
        changes["time_in_force"] = _TIF.get(item["time_in_force"])
    filled = dec(item["cum_qty"]) if "cum_qty" in item else base.filled_quantity
    changes["filled_quantity"] = filled
    if "avg_price" in item and filled > 0:
        changes["average_price"] = dec(item["avg_price"])
    triggers = item.get("triggers")
    untriggered = base.status is VenueOrderStatus.UNTRIGGERED
    if isinstance(triggers, Mapping):
        stop = _positive(triggers.get("actual_price")) or _positive(triggers.get("price"))
        if stop is not None and base.type.is_conditional:
            changes["stop_price"] = stop
        untriggered = triggers.get("status") == "untriggered"
    status = _WS_STATUS.get(str(item.get("order_status")))
    if status is None:
        status = base.status
    if status is VenueOrderStatus.OPEN and base.type.is_conditional and untriggered:
        status = VenueOrderStatus.UNTRIGGERED
    changes["status"] = status
    if item.get("cancel_reason"):
        changes["reason"] = str(item["cancel_reason"])
    updated = replace(base, **changes)
    fill = None
    if item.get("exec_type") == "trade":
        fees = item.get("fees") or []
        fee = sum((dec(f["qty"]) for f in fees), ZERO)
        fee_asset = normalize_asset(fees[0]["asset"]) if fees else None
        liquidity = item.get("liquidity_ind")
        fill = VenueFill(
            exchange=EXCHANGE,
            symbol=updated.symbol,
            trade_id=str(item.get("trade_id", item.get("exec_id"))),
            venue_order_id=order_id,
            client_order_id=updated.client_order_id,
            side=updated.side,
            price=dec(item["last_price"]),
            quantity=dec(item["last_qty"]),
            fee=fee,
            fee_asset=fee_asset,
            liquidity="maker" if liquidity == "m" else "taker" if liquidity == "t" else None,
            time=when,
        )
    return updated, fill


# -- balances and rules --------------------------------------------------------------------------


def balances(raw: Mapping[str, Mapping[str, Any]]) -> list[AssetBalance]:
    """``BalanceEx``: ``balance`` is the total, ``hold_trade`` what open orders hold; credit
    lines (``credit`` less ``credit_used``) add to what is free. Codes go through the one table
    of balance codes (``XXBT`` → BTC; ``DOT.S``, ``XBT.M`` are wallets apart from spot)."""
    out = []
    for name, entry in raw.items():
        code = ASSET_CODES.balance_asset(name)
        total = dec(entry["balance"])
        held = dec(entry.get("hold_trade", "0"))
        credit = dec(entry.get("credit", "0")) - dec(entry.get("credit_used", "0"))
        out.append(
            AssetBalance(
                asset=code.asset,
                free=(total - held + credit) * code.scale,
                locked=held * code.scale,
                wallet=code.wallet,
            )
        )
    return out


def instrument_rules(entry: Mapping[str, Any]) -> InstrumentRules:
    """One ``AssetPairs`` entry: tick (``tick_size``, else the price decimals), lot (the volume
    decimals), ``ordermin``, ``costmin``, and ``status`` (``online`` trades; ``cancel_only``,
    ``post_only``, ``limit_only``, ``reduce_only`` and maintenance do not take every order)."""
    base, _, quote = entry["wsname"].partition("/")
    tick = entry.get("tick_size")
    return InstrumentRules(
        symbol=f"{normalize_asset(base)}/{normalize_asset(quote)}",
        base=normalize_asset(base),
        quote=normalize_asset(quote),
        tick_size=dec(tick)
        if tick is not None
        else Decimal(1).scaleb(-int(entry["pair_decimals"])),
        lot_size=Decimal(1).scaleb(-int(entry["lot_decimals"])),
        min_quantity=dec(entry.get("ordermin", "0")),
        max_quantity=None,
        min_notional=_positive(entry.get("costmin")),
        order_types=ORDER_TYPES,
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.GTD}),
        post_only=True,
        quote_quantity_market=True,
        trading=entry.get("status", "online") == "online",
        amend=True,
        oco=False,
    )


def pair_names(pairs: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """(every name of a pair → symbol, symbol → the altname orders are sent with)."""
    to_symbol: dict[str, str] = {}
    to_pair: dict[str, str] = {}
    for key, entry in pairs.items():
        wsname = entry.get("wsname")
        if not wsname or "/" not in wsname:
            continue  # dark-pool ".d" pairs
        symbol = ws_symbol(wsname)
        for name in (key, entry.get("altname"), wsname):
            if name:
                to_symbol[name] = symbol
        to_pair[symbol] = entry.get("altname") or key
    return to_symbol, to_pair


# -- errors --------------------------------------------------------------------------------------

# Kraken's refusals of an order, an amend or a cancel ("<severity><category>:<message>"),
# matched whole, then by their first two parts (details follow a further colon).
REJECT_REASONS: Mapping[str, RejectReason] = {
    "EOrder:Insufficient funds": RejectReason.INSUFFICIENT_FUNDS,
    "EOrder:Insufficient margin": RejectReason.INSUFFICIENT_FUNDS,
    "EOrder:Margin allowance exceeded": RejectReason.INSUFFICIENT_FUNDS,
    "EOrder:Order minimum not met": RejectReason.LOT_SIZE,
    "EOrder:Cost minimum not met": RejectReason.MIN_NOTIONAL,
    "EOrder:Tick size check failed": RejectReason.PRICE_FILTER,
    "EOrder:Post only order": RejectReason.POST_ONLY_WOULD_TAKE,
    "EOrder:Rate limit exceeded": RejectReason.RATE_LIMITED,
    "EOrder:Orders limit exceeded": RejectReason.OTHER,  # open orders per pair
    "EOrder:Positions limit exceeded": RejectReason.OTHER,
    "EOrder:Unknown order": RejectReason.ORDER_NOT_AMENDABLE,
    "EOrder:Invalid order": RejectReason.INVALID_ORDER,
    "EOrder:Invalid price": RejectReason.INVALID_ORDER,
    "EOrder:Trading agreement required": RejectReason.PERMISSION_DENIED,
    "EOrder:Reduce only": RejectReason.INVALID_ORDER,
    "EGeneral:Permission denied": RejectReason.PERMISSION_DENIED,
    "EGeneral:Invalid arguments": RejectReason.INVALID_ORDER,
    "EGeneral:Invalid arguments:volume": RejectReason.LOT_SIZE,  # off the lot step
    "EGeneral:Invalid arguments:cl_ord_id already in use": RejectReason.DUPLICATE_CLIENT_ORDER_ID,
    "EService:Market in cancel_only mode": RejectReason.MARKET_CLOSED,
    "EService:Market in post_only mode": RejectReason.MARKET_CLOSED,
    "EService:Market in limit_only mode": RejectReason.MARKET_CLOSED,
    "EQuery:Unknown asset pair": RejectReason.UNKNOWN_SYMBOL,
}
# "EOrder:Invalid price:XBTUSD price can only be specified up to 1 decimals."
_PRICE_DECIMALS = re.compile(r"^EOrder:Invalid price:.*specified up to \d+ decimals")


def reject_reason(error: str) -> RejectReason:
    """The platform's reason for an order, amend or cancel Kraken refused with ``error``."""
    if error in REJECT_REASONS:
        return REJECT_REASONS[error]
    if _PRICE_DECIMALS.match(error):
        return RejectReason.PRICE_FILTER
    head = ":".join(error.split(":", 2)[:2])
    return REJECT_REASONS.get(head, RejectReason.OTHER)


# Refusals of the key itself (not of one action): CredentialRejected.
KEY_REFUSED = frozenset({"EAPI:Invalid key", "EAPI:Invalid signature", "EAPI:Bad request"})
