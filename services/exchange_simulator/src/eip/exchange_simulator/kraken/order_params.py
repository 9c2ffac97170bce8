"""A new Kraken order, from REST ``AddOrder`` parameters or a v2 ``add_order`` request, checked
as Kraken checks it and turned into the core's ``OrderRequest`` plus the ``OrderExtras`` only
Kraken keeps.

Prices may be absolute or relative to the last trade (``+10``, ``-1.5``, ``#2``, ``+2%``),
as Kraken allows for every priced order type; a relative price is resolved once, on arrival,
and the text the client sent is kept for the order's description. Kraken's own checks come
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
from eip.exchange_simulator.core.orders import OrderType, Side, TimeInForce
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
}
# Known to Kraken, not simulated: refused with Kraken's invalid-arguments error.
UNSUPPORTED_TYPES = {"iceberg", "settle-position", "trailing-stop", "trailing-stop-limit"}
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


def parse_new_order(
    fields: OrderFields, account_id: str, pairs: Pairs, exchange: Exchange
) -> NewOrder:
    pair = pairs.find(fields.pair) if fields.pair else None
    if fields.pair is None:
        raise errors.invalid("pair")
    if pair is None:
        raise KrakenError(errors.UNKNOWN_PAIR)
    inst = pair.instrument
    if fields.side not in ("buy", "sell"):
        raise errors.invalid("type")
    side = Side.BUY if fields.side == "buy" else Side.SELL
    if fields.ordertype in UNSUPPORTED_TYPES or fields.ordertype not in ORDER_TYPES:
        raise errors.invalid("ordertype")
    core_type = ORDER_TYPES[fields.ordertype]
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

    reference = _reference(exchange, inst.symbol)
    # '#': a resting buy (or a sell's stop) belongs below the market, a resting sell above.
    below = (side is Side.BUY) != (core_type in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT))
    first, first_text = resolve_price("price", fields.price, inst, reference, "-" if below else "+")
    second, second_text = resolve_price(
        "price2", fields.price2, inst, reference, "-" if side is Side.BUY else "+"
    )
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    if core_type is OrderType.MARKET:
        if first is not None or second is not None:
            raise errors.invalid("price")
    elif core_type is OrderType.LIMIT:
        if first is None:
            raise errors.invalid("price")
        limit_price = first
    else:  # conditional: price is the trigger, price2 the limit of the -limit variants
        if first is None:
            raise errors.invalid("price")
        stop_price = first
        if core_type.has_limit_price:
            if second is None:
                raise errors.invalid("price2")
            limit_price = second
        elif second is not None:
            raise errors.invalid("price2")
    for price in (limit_price, stop_price):
        if price is not None:
            _check_price(pair, price)

    volume = decimal("volume", fields.volume)
    quote_volume = decimal("cash_order_qty", fields.quote_volume)
    if viqc and quote_volume is None:
        quote_volume, volume = volume, None
    if volume is None and quote_volume is None:
        raise errors.invalid("volume")
    _check_size(pair, volume, quote_volume, limit_price or stop_price or reference)

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

    cl_ord_id = check_cl_ord_id(fields.cl_ord_id)
    userref = integer("userref", fields.userref, *USERREF_RANGE)
    if cl_ord_id is not None and userref is not None:
        raise errors.invalid("cl_ord_id and userref are mutually exclusive")

    request = OrderRequest(
        account_id,
        inst.symbol,
        side,
        OrderType.LIMIT_MAKER if post else core_type,
        volume,
        limit_price,
        stop_price,
        quote_volume,
        None if post or core_type is OrderType.MARKET else tif,
        cl_ord_id,
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
        price_text=first_text,
        price2_text=second_text,
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
    )
