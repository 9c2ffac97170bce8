"""A Coinbase create-order request (``client_order_id``, ``product_id``, ``side``,
``order_configuration``) as a core ``OrderRequest``, checked as Coinbase checks it.

Two kinds of refusal, as on Coinbase: a malformed request (a missing field, a number where a
decimal string belongs, an unknown stop direction) is an HTTP 400 ``INVALID_ARGUMENT``; an order
Coinbase understands but will not place (unknown product, size off the increment, too small,
post-only crossing, no funds) is ``success: false`` with an ``OrderFailure``.

``order_configuration`` holds exactly one of: ``market_market_ioc`` (``base_size`` or
``quote_size``), ``sor_limit_ioc``, ``limit_limit_gtc`` / ``limit_limit_gtd`` (``post_only``,
``end_time``), ``limit_limit_fok``, ``stop_limit_stop_limit_gtc`` / ``_gtd`` (``stop_price``,
``stop_direction``), ``trigger_bracket_gtc`` / ``_gtd`` (``stop_trigger_price``: a core order list,
see ``bracket``). A stop's direction says whether it triggers on a rise or a fall; with the side
it names the core's stop type (a buy that triggers on a rise is a stop-loss). Any other
configuration (TWAP, scaled, quote-sized limits) is ``UNSUPPORTED_ORDER_CONFIGURATION``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eip.exchange_simulator.coinbase import errors, wire
from eip.exchange_simulator.coinbase.errors import OrderFailure
from eip.exchange_simulator.coinbase.orders import STOP_DOWN, STOP_UP, stop_type
from eip.exchange_simulator.coinbase.venue import decimal_field
from eip.exchange_simulator.core.exchange import OrderRequest
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.orders import OrderType, Side, TimeInForce

MAX_CLIENT_ORDER_ID = 128
_LIMITS = {
    "sor_limit_ioc": TimeInForce.IOC,
    "limit_limit_gtc": TimeInForce.GTC,
    "limit_limit_gtd": TimeInForce.GTC,
    "limit_limit_fok": TimeInForce.FOK,
}
_STOPS = ("stop_limit_stop_limit_gtc", "stop_limit_stop_limit_gtd")
_BRACKETS = ("trigger_bracket_gtc", "trigger_bracket_gtd")
SUPPORTED = ("market_market_ioc", *_LIMITS, *_STOPS, *_BRACKETS)
# A bracket's stop leg becomes a limit order this far beyond its trigger, as Coinbase places it
BRACKET_STOP_SLIPPAGE = Decimal("0.05")
BRACKET_STOP_SUFFIX = ":bracket-stop"  # the hidden stop leg's client order id


@dataclass(frozen=True)
class NewOrder:
    request: OrderRequest
    end_time_ms: int | None  # GTD
    stop_up: bool | None  # a stop's direction
    bracket_stop: OrderRequest | None = None  # a bracket's second leg (the first is request)


def client_order_id(body: dict[str, Any]) -> str:
    raw = body.get("client_order_id")
    if not isinstance(raw, str) or not raw:
        raise errors.invalid("client_order_id is required")
    if len(raw) > MAX_CLIENT_ORDER_ID:
        raise errors.invalid(f"client_order_id is longer than {MAX_CLIENT_ORDER_ID} characters")
    return raw


def configuration(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The one order configuration: its name and fields."""
    config = body.get("order_configuration")
    if not isinstance(config, dict) or not config:
        raise errors.invalid("order_configuration is required")
    if len(config) != 1:
        raise errors.unsupported("order_configuration must hold exactly one configuration")
    ((name, fields),) = config.items()
    if name not in SUPPORTED:
        raise errors.unsupported(f"{name} is not supported by this venue")
    if not isinstance(fields, dict):
        raise errors.invalid(f"order_configuration.{name} must be an object")
    return name, fields


def parse_new_order(
    body: dict[str, Any], account_id: str, by_product: dict[str, Instrument], now_ms: int
) -> NewOrder:
    client_id = client_order_id(body)
    name, fields = configuration(body)
    product = body.get("product_id")
    inst = by_product.get(product) if isinstance(product, str) else None
    if inst is None:
        raise errors.unknown_product()
    side_raw = body.get("side")
    if side_raw not in ("BUY", "SELL"):
        raise OrderFailure("INVALID_SIDE", errors.UNKNOWN_PREVIEW, "side must be BUY or SELL")
    side = Side(side_raw)

    def amount(key: str, required: bool = True) -> Decimal | None:
        raw = fields.get(key)
        if raw is None or raw == "":
            if required:
                raise errors.invalid(f"order_configuration.{name}.{key} is required")
            return None
        return decimal_field(raw, f"{name}.{key}")

    if name == "market_market_ioc":
        base, quote = amount("base_size", False), amount("quote_size", False)
        if (base is None) == (quote is None):
            raise errors.invalid("market_market_ioc takes exactly one of base_size and quote_size")
        check_sizes(inst, base, quote, None)
        request = OrderRequest(
            account_id,
            inst.symbol,
            side,
            OrderType.MARKET,
            base,
            quote_quantity=quote,
            client_order_id=client_id,
        )
        return NewOrder(request, None, None)

    size, price = amount("base_size"), amount("limit_price")
    assert size is not None
    assert price is not None
    check_sizes(inst, size, None, price)
    end_ms = None
    if name.endswith("_gtd"):
        end_ms = end_time(fields.get("end_time"), now_ms)
    if name in _BRACKETS:
        trigger = amount("stop_trigger_price")
        assert trigger is not None
        return bracket(inst, account_id, client_id, side, size, price, trigger, end_ms)
    if name in _STOPS:
        stop = amount("stop_price")
        assert stop is not None
        check_price(inst, stop)
        direction = fields.get("stop_direction")
        if direction not in (STOP_UP, STOP_DOWN):
            raise errors.invalid(f"stop_direction must be {STOP_UP} or {STOP_DOWN}")
        request = OrderRequest(
            account_id,
            inst.symbol,
            side,
            stop_type(direction, side),
            size,
            price,
            stop,
            time_in_force=TimeInForce.GTC,
            client_order_id=client_id,
        )
        return NewOrder(request, end_ms, direction == STOP_UP)
    post_only = fields.get("post_only", False)
    if not isinstance(post_only, bool):
        raise errors.invalid(f"{name}.post_only must be true or false")
    post_only = post_only and name in ("limit_limit_gtc", "limit_limit_gtd")
    request = OrderRequest(
        account_id,
        inst.symbol,
        side,
        OrderType.LIMIT_MAKER if post_only else OrderType.LIMIT,
        size,
        price,
        time_in_force=None if post_only else _LIMITS[name],
        client_order_id=client_id,
    )
    return NewOrder(request, end_ms, None)


def bracket(
    inst: Instrument,
    account_id: str,
    client_id: str,
    side: Side,
    size: Decimal,
    price: Decimal,
    trigger: Decimal,
    end_ms: int | None,
) -> NewOrder:
    """``trigger_bracket_*``: a take-profit limit at ``limit_price`` and a stop-loss that, at
    ``stop_trigger_price``, becomes a limit order 5 % beyond it (above for a buy, below for a
    sell), one cancelling the other — two legs of one core order list, one Coinbase order."""
    check_price(inst, trigger)
    buy = side is Side.BUY
    if (trigger <= price) if buy else (trigger >= price):
        raise errors.preview(
            "PREVIEW_INVALID_STOP_PRICE",
            "a bracket's stop_trigger_price must be beyond its limit_price, on the losing side",
        )
    slipped = trigger * (1 + BRACKET_STOP_SLIPPAGE if buy else 1 - BRACKET_STOP_SLIPPAGE)
    stop_limit = (slipped / inst.tick_size).to_integral_value() * inst.tick_size
    take_profit = OrderRequest(
        account_id,
        inst.symbol,
        side,
        OrderType.LIMIT,
        size,
        price,
        time_in_force=TimeInForce.GTC,
        client_order_id=client_id,
    )
    stop_loss = OrderRequest(
        account_id,
        inst.symbol,
        side,
        OrderType.STOP_LOSS_LIMIT,
        size,
        stop_limit,
        trigger,
        time_in_force=TimeInForce.GTC,
        client_order_id=client_id + BRACKET_STOP_SUFFIX,
    )
    return NewOrder(take_profit, end_ms, buy, stop_loss)


def end_time(raw: Any, now_ms: int) -> int:
    if not isinstance(raw, str):
        raise errors.invalid("end_time is required for a GTD order (RFC 3339)")
    try:
        end_ms = wire.parse_time(raw)
    except ValueError:
        raise errors.invalid(f"end_time is not an RFC 3339 time: {raw!r}") from None
    if end_ms <= now_ms:
        raise errors.preview("PREVIEW_INVALID_END_TIME", "end_time must be in the future")
    return end_ms


def check_price(inst: Instrument, price: Decimal) -> None:
    if not inst.on_tick(price):
        raise OrderFailure(
            "INVALID_PRICE_PRECISION",
            "PREVIEW_INVALID_PRICE_PRECISION",
            f"price {price} is not a multiple of quote_increment {inst.tick_size}",
        )


def check_sizes(
    inst: Instrument, base: Decimal | None, quote: Decimal | None, price: Decimal | None
) -> None:
    """Increments and the product's min/max sizes, before the core sees the order."""
    if price is not None:
        check_price(inst, price)
    if base is not None:
        if not inst.on_step(base):
            raise OrderFailure(
                "INVALID_SIZE_PRECISION",
                "PREVIEW_INVALID_SIZE_PRECISION",
                f"size {base} is not a multiple of base_increment {inst.step_size}",
            )
        if base < inst.min_qty:
            raise errors.preview(
                "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL", f"base size is below {inst.min_qty}"
            )
        if base > inst.max_qty:
            raise errors.preview(
                "PREVIEW_INVALID_BASE_SIZE_TOO_LARGE", f"base size is above {inst.max_qty}"
            )
    value = quote if quote is not None else (base * price if base and price else None)
    if value is not None:
        if value < inst.min_notional:
            raise errors.preview(
                "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
                f"order value is below quote_min_size {inst.min_notional}",
            )
        if value > inst.max_notional:
            raise errors.preview(
                "PREVIEW_INVALID_QUOTE_SIZE_TOO_LARGE",
                f"order value is above quote_max_size {inst.max_notional}",
            )
    if quote is not None and not inst.on_tick(quote):
        raise OrderFailure(
            "INVALID_PRICE_PRECISION",
            "PREVIEW_INVALID_QUOTE_SIZE_PRECISION",
            f"quote size {quote} is not a multiple of quote_increment {inst.tick_size}",
        )
