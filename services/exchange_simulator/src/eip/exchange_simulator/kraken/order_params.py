"""A new Kraken order, from REST ``AddOrder`` parameters or a v2 ``add_order`` request, checked
as Kraken checks it and turned into the core's ``OrderRequest`` plus the ``OrderExtras`` only
Kraken keeps.

Prices may be absolute or relative to the last trade (``+10``, ``-1.5``, ``#2``, ``+2%``),
as Kraken allows for every priced order type; a relative price is resolved once, on arrival,
and the text the client sent is kept for the order's description. Trailing stops take their
``price`` (``+50``, ``+2%``) as the distance the market must come back and ``price2`` as the
limit's offset from the level that fired them. Kraken's own checks come
before the core's so their errors are Kraken's: decimals of price and volume, ``ordermin``,
``costmin``, tick size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from eip.exchange_simulator.core.exchange import Exchange, OrderRequest
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from eip.exchange_simulator.core.trailing import Offset, OffsetUnit, Trailing
from eip.exchange_simulator.kraken import errors
from eip.exchange_simulator.kraken.dialect import OrderExtras
from eip.exchange_simulator.kraken.errors import KrakenError
from eip.exchange_simulator.kraken.names import PairNames, Pairs

ORDER_TYPES = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop-loss": OrderType.STOP_LOSS,
    "stop-loss-limit": OrderType.STOP_LOSS_LIMIT,
    "take-profit": OrderType.TAKE_PROFIT,
    "take-profit-limit": OrderType.TAKE_PROFIT_LIMIT,
    # A trailing stop is a stop whose trigger follows the market (core/trailing.py).
    "trailing-stop": OrderType.STOP_LOSS,
    "trailing-stop-limit": OrderType.STOP_LOSS_LIMIT,
}
TRAILING_TYPES = {"trailing-stop", "trailing-stop-limit"}
# Kraken's self-trade prevention (``stptype``; default cancel-newest): the arriving order, the
# resting one, or both are cancelled.
STP_TYPES = {
    "cancel-newest": SelfTradePrevention.EXPIRE_TAKER,
    "cancel-oldest": SelfTradePrevention.EXPIRE_MAKER,
    "cancel-both": SelfTradePrevention.EXPIRE_BOTH,
}
OFLAGS = {"post", "fcib", "fciq", "nompp", "viqc"}
_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_RELATIVE = re.compile(r"^([+\-#])([0-9]+(?:\.[0-9]+)?)(%?)$")
_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
_FREE_TEXT = re.compile(r"^[!-~]{1,18}$")  # printable ASCII, no spaces
USERREF_RANGE = (-(2**31), 2**31 - 1)


@dataclass
class NewOrder:
    """A checked order: what the core places, and what Kraken remembers about it."""

    pair: PairNames
    request: OrderRequest
    extras: OrderExtras
    validate_only: bool


def text(value: Any) -> str | None:
    """A parameter as text: JSON bodies send numbers and booleans, forms send strings."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):  # a JSON number: plain digits, never 1E-7
        return format(value, "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


def decimal(name: str, value: Any) -> Decimal | None:
    raw = text(value)
    if raw is None:
        return None
    if not _DECIMAL.match(raw):
        raise errors.invalid(name)
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise errors.invalid(name) from None


def boolean(name: str, value: Any) -> bool:
    raw = text(value)
    if raw is None:
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise errors.invalid(name)


def integer(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int | None:
    raw = text(value)
    if raw is None:
        return None
    try:
        number = int(raw)
    except ValueError:
        raise errors.invalid(name) from None
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise errors.invalid(name)
    return number


def check_cl_ord_id(value: Any) -> str | None:
    """Kraken takes a UUID (with or without dashes) or up to 18 printable characters."""
    raw = text(value)
    if raw is None:
        return None
    if not (_UUID.match(raw) or _FREE_TEXT.match(raw)):
        raise errors.invalid("cl_ord_id")
    return raw


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def resolve_price(
    name: str, raw: Any, inst: Instrument, reference: Decimal | None, hash_sign: str
) -> tuple[Decimal | None, str | None]:
    """(absolute price, the text as sent if it was relative) of a price that may be relative to
    ``reference``; ``#`` offsets take ``hash_sign``, the side of the reference the order belongs
    on."""
    given = text(raw)
    if given is None:
        return None, None
    relative = _RELATIVE.match(given)
    if relative is None:
        return decimal(name, given), None
    if reference is None:
        raise KrakenError(f"{errors.INVALID_PRICE}:no last trade price to be relative to")
    sign, amount, percent = relative.groups()
    offset = Decimal(amount) * reference / 100 if percent else Decimal(amount)
    if sign == "#":
        sign = hash_sign
    price = reference + offset if sign == "+" else reference - offset
    rounded = inst.round_price(price)
    return rounded.quantize(inst.tick_size, ROUND_HALF_EVEN), given


def _check_price(pair: PairNames, price: Decimal) -> None:
    inst = pair.instrument
    if price <= 0:
        raise errors.invalid("price")
    if _decimals(price) > inst.price_decimals:
        raise KrakenError(
            f"{errors.INVALID_PRICE}:{pair.altname} price can only be specified up to "
            f"{inst.price_decimals} decimals."
        )
    if not inst.on_tick(price):
        raise KrakenError(errors.TICK_SIZE)


def _check_size(
    pair: PairNames, volume: Decimal | None, quote: Decimal | None, price: Decimal | None
) -> None:
    inst = pair.instrument
    if volume is not None:
        if volume <= 0 or _decimals(volume) > inst.qty_decimals or not inst.on_step(volume):
            raise errors.invalid("volume")
        if volume < inst.min_qty:
            raise KrakenError(errors.ORDER_MINIMUM)
        if volume > inst.max_qty:
            raise errors.invalid("volume")
        cost = volume * price if price is not None else None
    else:
        assert quote is not None
        if quote <= 0:
            raise errors.invalid("volume")
        cost = quote
    if cost is not None and cost < inst.min_notional:
        raise KrakenError(errors.COST_MINIMUM)


def _reference(exchange: Exchange, symbol: str) -> Decimal | None:
    engine = exchange.engine(symbol)
    if engine.last_price is not None:
        return engine.last_price
    bid, ask = engine.book.bids.best(), engine.book.asks.best()
    return (bid.price + ask.price) / 2 if bid and ask else None


@dataclass
class OrderFields:
    """The fields of a new order, whichever API they came in."""

    pair: str | None
    side: str | None
    ordertype: str | None
    volume: Any
    price: Any = None  # limit price, or the trigger price of conditional orders (REST)
    price2: Any = None  # limit price of *-limit conditional orders (REST)
    flags: tuple[str, ...] = ()
    time_in_force: str | None = None
    cl_ord_id: Any = None
    userref: Any = None
    validate: bool = False
    trigger: str | None = None
    quote_volume: Any = None  # v2 cash_order_qty
    stp_type: str | None = None


@dataclass
class _Prices:
    limit: Decimal | None = None
    stop: Decimal | None = None
    trailing: Trailing | None = None
    price_text: str | None = None  # kept for the description when relative
    price2_text: str | None = None


def _offset(name: str, raw: Any, signs: str) -> tuple[Offset, str]:
    """A trailing offset: ``+50`` (a price distance) or ``+2%`` (200 basis points), with one of
    ``signs``; the text is kept as sent."""
    given = text(raw)
    match = _RELATIVE.match(given or "")
    if given is None or match is None or match.group(1) not in signs:
        raise errors.invalid(name)
    sign, amount, percent = match.groups()
    value = Decimal(amount) if sign == "+" else -Decimal(amount)
    if percent:
        return Offset(value * 100, OffsetUnit.BPS), given
    return Offset(value, OffsetUnit.PRICE), given


def _trailing_prices(fields: OrderFields, pair: PairNames, limit: bool) -> _Prices:
    """``trailing-stop(-limit)``: ``price`` is how far the market must come back from its
    extreme (``+`` only), ``price2`` the limit's offset from the level that fired it."""
    offset, price_text = _offset("price", fields.price, "+")
    if offset.amount <= 0:
        raise errors.invalid("price")
    if (
        offset.unit is OffsetUnit.PRICE
        and _decimals(offset.amount) > pair.instrument.price_decimals
    ):
        raise errors.invalid("price")
    limit_offset, price2_text = None, None
    if limit:
        limit_offset, price2_text = _offset("price2", fields.price2, "+-")
    elif fields.price2 not in (None, ""):
        raise errors.invalid("price2")
    return _Prices(
        trailing=Trailing(offset, None, limit_offset),
        price_text=price_text,
        price2_text=price2_text,
    )


def _prices(
    fields: OrderFields, pair: PairNames, core_type: OrderType, side: Side, exchange: Exchange
) -> _Prices:
    """The order's prices: absolute or relative to the last trade (``price`` the limit, or the
    trigger of conditional orders; ``price2`` the limit of their -limit variants)."""
    inst = pair.instrument
    reference = _reference(exchange, inst.symbol)
    # '#': a resting buy (or a sell's stop) belongs below the market, a resting sell above.
    below = (side is Side.BUY) != (core_type in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT))
    first, first_text = resolve_price("price", fields.price, inst, reference, "-" if below else "+")
    second, second_text = resolve_price(
        "price2", fields.price2, inst, reference, "-" if side is Side.BUY else "+"
    )
    prices = _Prices(price_text=first_text, price2_text=second_text)
    if core_type is OrderType.MARKET:
        if first is not None or second is not None:
            raise errors.invalid("price")
    elif core_type is OrderType.LIMIT:
        if first is None:
            raise errors.invalid("price")
        prices.limit = first
    else:
        if first is None:
            raise errors.invalid("price")
        prices.stop = first
        if core_type.has_limit_price:
            if second is None:
                raise errors.invalid("price2")
            prices.limit = second
        elif second is not None:
            raise errors.invalid("price2")
    for price in (prices.limit, prices.stop):
        if price is not None:
            _check_price(pair, price)
    return prices


def parse_new_order(
    fields: OrderFields, account_id: str, pairs: Pairs, exchange: Exchange
) -> NewOrder:
    pair = pairs.find(fields.pair) if fields.pair else None
    if fields.pair is None:
        raise errors.invalid("pair")
    if pair is None:
        raise KrakenError(errors.UNKNOWN_PAIR)
    if fields.side not in ("buy", "sell"):
        raise errors.invalid("type")
    side = Side.BUY if fields.side == "buy" else Side.SELL
    if fields.ordertype not in ORDER_TYPES:
        raise errors.invalid("ordertype")
    core_type = ORDER_TYPES[fields.ordertype]
    trailing = fields.ordertype in TRAILING_TYPES
    unknown = set(fields.flags) - OFLAGS
    if unknown:
        raise errors.invalid("oflags")
    flags = set(fields.flags)
    if {"fcib", "fciq"} <= flags:
        raise errors.invalid("oflags")
    post = "post" in flags
    if post and core_type is not OrderType.LIMIT:
        raise errors.invalid("oflags")
    viqc = "viqc" in flags or fields.quote_volume is not None
    if viqc and core_type is not OrderType.MARKET:
        raise errors.invalid("viqc")

    if trailing:
        prices = _trailing_prices(fields, pair, core_type.has_limit_price)
    else:
        prices = _prices(fields, pair, core_type, side, exchange)

    volume = decimal("volume", fields.volume)
    quote_volume = decimal("cash_order_qty", fields.quote_volume)
    if viqc and quote_volume is None:
        quote_volume, volume = volume, None
    if volume is None and quote_volume is None:
        raise errors.invalid("volume")
    reference = prices.limit or prices.stop or _reference(exchange, pair.symbol)
    _check_size(pair, volume, quote_volume, reference)

    tif_raw = (fields.time_in_force or "GTC").upper()
    if tif_raw == "GTD":
        raise errors.invalid("timeinforce:GTD is not simulated")
    if tif_raw not in ("GTC", "IOC"):
        raise errors.invalid("timeinforce")
    tif = TimeInForce(tif_raw)
    if post and tif is not TimeInForce.GTC:
        raise errors.invalid("timeinforce")
    if fields.trigger not in (None, "last", "index"):
        raise errors.invalid("trigger")
    stp = STP_TYPES.get(fields.stp_type or "cancel-newest")
    if stp is None:
        raise errors.invalid("stptype")

    cl_ord_id = check_cl_ord_id(fields.cl_ord_id)
    userref = integer("userref", fields.userref, *USERREF_RANGE)
    if cl_ord_id is not None and userref is not None:
        raise errors.invalid("cl_ord_id and userref are mutually exclusive")

    request = OrderRequest(
        account_id,
        pair.symbol,
        side,
        OrderType.LIMIT_MAKER if post else core_type,
        volume,
        prices.limit,
        prices.stop,
        quote_volume,
        None if post or core_type is OrderType.MARKET else tif,
        cl_ord_id,
        trailing=prices.trailing,
        self_trade_prevention=stp,
    )
    # The fee is taken from what the order receives (see docs/SIMULATOR.md): the flag shown
    # says which asset that is, whatever the client preferred.
    shown = ["fcib" if side is Side.BUY else "fciq"]
    if post:
        shown.append("post")
    if viqc:
        shown.append("viqc")
    extras = OrderExtras(
        fields.ordertype,
        userref=userref,
        cl_ord_id=cl_ord_id,
        oflags=tuple(shown),
        viqc=viqc,
        price_text=prices.price_text,
        price2_text=prices.price2_text,
        trigger=fields.trigger or "last",
    )
    return NewOrder(pair, request, extras, fields.validate)


def rest_fields(params: dict[str, Any]) -> OrderFields:
    """``AddOrder``'s form (or JSON) parameters; unsupported ones are refused, not ignored."""
    for name in ("starttm", "expiretm"):
        if text(params.get(name)) not in (None, "0"):
            raise errors.invalid(f"{name}:scheduled orders are not simulated")
    if text(params.get("leverage")) not in (None, "none"):
        raise errors.invalid("leverage")
    for name in ("close", "close[ordertype]", "close[price]", "displayvol"):
        if params.get(name) not in (None, ""):
            raise errors.invalid(name)
    if boolean("reduce_only", params.get("reduce_only")):
        raise errors.invalid("reduce_only")
    raw_flags = params.get("oflags")
    flags = (
        tuple(str(f) for f in raw_flags)
        if isinstance(raw_flags, list)
        else tuple(f.strip() for f in (text(raw_flags) or "").split(",") if f.strip())
    )
    return OrderFields(
        pair=text(params.get("pair")),
        side=text(params.get("type")),
        ordertype=text(params.get("ordertype")),
        volume=params.get("volume"),
        price=params.get("price"),
        price2=params.get("price2"),
        flags=flags,
        time_in_force=text(params.get("timeinforce")),
        cl_ord_id=params.get("cl_ord_id"),
        userref=params.get("userref"),
        validate=boolean("validate", params.get("validate")),
        trigger=text(params.get("trigger")),
        stp_type=text(params.get("stptype")),
    )


@dataclass
class Amendment:
    """What an amend request changes (REST ``AmendOrder``, v2 ``amend_order``)."""

    ident: str  # txid or cl_ord_id
    quantity: Decimal | None
    limit_price: Decimal | None
    trigger_price: Decimal | None
    post_only: bool


def parse_amendment(
    params: dict[str, Any], order_ident: str | None, pair: PairNames, exchange: Exchange
) -> Amendment:
    """The fields of an amendment, checked as a new order's (decimals, tick, ``ordermin``);
    prices may be relative to the last trade, as in ``AddOrder``."""
    ident = order_ident or check_cl_ord_id(params.get("cl_ord_id"))
    if ident is None:
        raise errors.invalid("txid")
    if params.get("display_qty") not in (None, ""):
        raise errors.invalid("display_qty")
    for name in ("limit_price_type", "trigger_price_type"):  # relative amends: not simulated
        if params.get(name) not in (None, "", "static"):
            raise errors.invalid(name)
    inst = pair.instrument
    reference = _reference(exchange, inst.symbol)
    quantity = decimal("order_qty", params.get("order_qty"))
    limit, _ = resolve_price("limit_price", params.get("limit_price"), inst, reference, "-")
    trigger, _ = resolve_price("trigger_price", params.get("trigger_price"), inst, reference, "-")
    for price in (limit, trigger):
        if price is not None:
            _check_price(pair, price)
    if quantity is not None:
        _check_size(pair, quantity, None, limit)
    return Amendment(ident, quantity, limit, trigger, boolean("post_only", params.get("post_only")))


def _relative(value: Any, price_type: str) -> str:
    """A v2 trigger price as REST text: ``static`` is absolute, ``quote`` an offset in the
    quote currency, ``pct`` an offset in percent (negative offsets below the reference)."""
    amount = Decimal(str(value))
    if price_type == "static":
        return str(amount)
    sign = "-" if amount < 0 else "+"
    return f"{sign}{abs(amount)}{'%' if price_type == 'pct' else ''}"


def v2_fields(params: dict[str, Any]) -> OrderFields:
    """``add_order``'s params in the fields REST's ``AddOrder`` uses."""
    order_type = params.get("order_type")
    triggers = params.get("triggers")
    trigger_text: str | None = None
    reference: str | None = None
    if triggers is not None:
        if not isinstance(triggers, dict) or "price" not in triggers:
            raise errors.invalid("triggers")
        price_type = triggers.get("price_type", "static")
        if price_type not in ("static", "pct", "quote"):
            raise errors.invalid("triggers")
        trigger_text = _relative(triggers["price"], price_type)
        reference = triggers.get("reference", "last")
    limit = params.get("limit_price")
    limit_type = params.get("limit_price_type", "static")
    if limit_type not in ("static", "pct", "quote"):
        raise errors.invalid("limit_price_type")
    if limit is not None and limit_type != "static":  # a trailing-stop-limit's limit offset
        limit = _relative(limit, limit_type)
    flags: list[str] = []
    if params.get("post_only") is True:
        flags.append("post")
    fee_pref = params.get("fee_preference")
    if fee_pref is not None:
        if fee_pref not in ("base", "quote"):
            raise errors.invalid("fee_preference")
        flags.append("fcib" if fee_pref == "base" else "fciq")
    for name in ("margin", "reduce_only"):
        if params.get(name) is True:
            raise errors.invalid(name)
    conditional = isinstance(order_type, str) and order_type not in ("market", "limit")
    return OrderFields(
        pair=params.get("symbol") if isinstance(params.get("symbol"), str) else None,
        side=params.get("side") if isinstance(params.get("side"), str) else None,
        ordertype=order_type if isinstance(order_type, str) else None,
        volume=params.get("order_qty"),
        price=trigger_text if conditional else limit,
        price2=limit if conditional else None,
        flags=tuple(flags),
        time_in_force=params.get("time_in_force"),
        cl_ord_id=params.get("cl_ord_id"),
        userref=params.get("order_userref"),
        validate=params.get("validate") is True,
        trigger=reference,
        quote_volume=params.get("cash_order_qty"),
        stp_type=params.get("stp_type"),
    )
