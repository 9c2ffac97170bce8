"""ccxt's unified private structures (order, trade, balance, market) → the trading contract.

The client runs with ``number = str`` (``market_data.new_client``), so amounts and prices come
as the venue's text and become ``Decimal`` through ``parse.to_decimal``, which refuses a float
rather than rounding one. What is subtle:

- ccxt says ``open`` for an order with fills too; the contract tells ``partially_filled`` apart
  by the filled amount. ``closed`` is ccxt's word for fully filled.
- ``sequence`` is the venue's last update time in ms (ccxt's ``lastUpdateTimestamp``), else the
  creation time: none of these venues gives an update counter through ccxt's REST structures.
- A fee ccxt reports negative is a rebate; it is kept with its sign (the contract's ``fee`` is
  what the account paid).
- Bitfinex's markets are in ccxt's SIGNIFICANT_DIGITS mode (five significant digits of price,
  no fixed tick): the rules give its smallest price step (eight decimals) as the tick and the
  venue refuses a sixth significant digit with ``price_filter``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from eip.exchanges.ccxt.parse import ms_to_utc, normalize_symbol, opt_decimal, to_decimal
from eip.exchanges.contract.symbols import normalize_asset
from eip.exchanges.contract.trading import (
    AssetBalance,
    InstrumentRules,
    OrderSide,
    OrderType,
    TimeInForce,
    VenueFill,
    VenueOrder,
    VenueOrderStatus,
)
from eip.exchanges.registry import balance_asset

TICK_SIZE = 4  # ccxt.base.decimal_to_precision.TICK_SIZE
SIGNIFICANT_DIGITS = 3
DECIMAL_PLACES = 2
SIGNIFICANT_DIGITS_TICK = Decimal("1E-8")

_TIME_IN_FORCE = {
    "GTC": TimeInForce.GTC,
    "PO": TimeInForce.GTC,  # post-only rests like a GTC order
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
    "GTD": TimeInForce.GTD,
}
_CLOSED_STATUS = {
    "closed": VenueOrderStatus.FILLED,
    "canceled": VenueOrderStatus.CANCELED,
    "cancelled": VenueOrderStatus.CANCELED,
    "expired": VenueOrderStatus.EXPIRED,
    "rejected": VenueOrderStatus.REJECTED,
}


def _side(value: Any) -> OrderSide:
    if value in ("buy", "sell"):
        return value  # type: ignore[no-any-return]
    raise ValueError(f"not an order side: {value!r}")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def order_status(raw: Mapping[str, Any], filled: Decimal) -> VenueOrderStatus:
    status = raw.get("status")
    if status == "open" or status is None:
        return VenueOrderStatus.PARTIALLY_FILLED if filled > 0 else VenueOrderStatus.OPEN
    found = _CLOSED_STATUS.get(str(status))
    if found is None:
        raise ValueError(f"unknown ccxt order status {status!r}")
    return found


def order_type(raw: Mapping[str, Any]) -> OrderType:
    limit = raw.get("type") != "market"
    trigger = raw.get("triggerPrice") or raw.get("stopPrice")
    if trigger is not None:
        return OrderType.STOP_LIMIT if limit else OrderType.STOP_MARKET
    return OrderType.LIMIT if limit else OrderType.MARKET


def parse_order(exchange: str, raw: Mapping[str, Any]) -> VenueOrder:
    filled = opt_decimal(raw.get("filled")) or Decimal(0)
    created = raw.get("timestamp")
    updated = raw.get("lastUpdateTimestamp") or raw.get("lastTradeTimestamp") or created
    average = opt_decimal(raw.get("average"))
    kind = order_type(raw)
    price = opt_decimal(raw.get("price")) if kind.has_limit_price else None
    trigger = raw.get("triggerPrice") or raw.get("stopPrice")
    return VenueOrder(
        exchange=exchange,
        symbol=normalize_symbol(str(raw["symbol"])),
        venue_order_id=str(raw["id"]),
        client_order_id=_text(raw.get("clientOrderId")),
        side=_side(raw.get("side")),
        type=kind,
        status=order_status(raw, filled),
        quantity=opt_decimal(raw.get("amount")),
        filled_quantity=filled,
        price=price if price else None,  # a venue's "0" price on a market order is no price
        stop_price=opt_decimal(trigger),
        average_price=average if average else None,
        time_in_force=_TIME_IN_FORCE.get(str(raw.get("timeInForce") or "").upper()),
        created_time=ms_to_utc(created),
        updated_time=ms_to_utc(updated),
        sequence=None if updated is None else int(updated),
    )


def parse_fill(exchange: str, raw: Mapping[str, Any]) -> VenueFill:
    fee = raw.get("fee") or {}
    fee_asset = fee.get("currency")
    liquidity = raw.get("takerOrMaker")
    when = ms_to_utc(raw.get("timestamp"))
    if when is None:
        raise ValueError("a fill without a time")
    return VenueFill(
        exchange=exchange,
        symbol=normalize_symbol(str(raw["symbol"])),
        trade_id=str(raw["id"]),
        venue_order_id=str(raw["order"]),
        client_order_id=_text(raw.get("clientOrderId")),
        side=_side(raw.get("side")),
        price=to_decimal(raw["price"]),
        quantity=to_decimal(raw["amount"]),
        fee=opt_decimal(fee.get("cost")) or Decimal(0),
        fee_asset=normalize_asset(str(fee_asset)) if fee_asset else None,
        liquidity=liquidity if liquidity in ("maker", "taker") else None,
        time=when,
    )


_BALANCE_KEYS = frozenset({"info", "free", "used", "total", "timestamp", "datetime", "debt"})


def parse_balances(raw: Mapping[str, Any], exchange: str) -> list[AssetBalance]:
    """Every asset with a non-zero amount; free and locked as ccxt's ``free`` and ``used``;
    ccxt's codes through the venue's table of balance codes (``registry.balance_asset``: its
    aliases and wallets apart, e.g. KuCoin's ``WAX``)."""
    out = []
    for code, entry in raw.items():
        if code in _BALANCE_KEYS or not isinstance(entry, Mapping):
            continue
        total = opt_decimal(entry.get("total"))
        locked = opt_decimal(entry.get("used")) or Decimal(0)
        free = opt_decimal(entry.get("free"))
        if free is None:
            free = (total or Decimal(0)) - locked
        if free == 0 and locked == 0:
            continue
        mapped = balance_asset(exchange, str(code))
        out.append(
            AssetBalance(
                asset=mapped.asset,
                free=free * mapped.scale,
                locked=locked * mapped.scale,
                wallet=mapped.wallet,
            )
        )
    return sorted(out, key=lambda b: (b.asset, b.wallet))


def _step(precision: Any, mode: int) -> Decimal | None:
    if precision is None:
        return None
    if mode == TICK_SIZE:
        return to_decimal(str(precision))
    if mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(Decimal(str(precision))))
    return None  # SIGNIFICANT_DIGITS: no fixed step


def parse_rules(
    market: Mapping[str, Any],
    mode: int,
    *,
    order_types: Iterable[OrderType],
    time_in_force: Iterable[TimeInForce],
    post_only: bool,
    quote_quantity_market: bool,
    amend: bool,
) -> InstrumentRules:
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    amount = limits.get("amount") or {}
    cost = limits.get("cost") or {}
    tick = _step(precision.get("price"), mode)
    if tick is None:
        tick = SIGNIFICANT_DIGITS_TICK
    lot = _step(precision.get("amount"), mode if mode != SIGNIFICANT_DIGITS else DECIMAL_PLACES)
    if lot is None:
        raise ValueError(f"{market.get('symbol')}: no amount precision")
    min_quantity = opt_decimal(_num(amount.get("min"))) or lot
    return InstrumentRules(
        symbol=normalize_symbol(str(market["symbol"])),
        base=normalize_asset(str(market["base"])),
        quote=normalize_asset(str(market["quote"])),
        tick_size=tick,
        lot_size=lot,
        min_quantity=min_quantity,
        max_quantity=opt_decimal(_num(amount.get("max"))),
        min_notional=opt_decimal(_num(cost.get("min"))),
        max_notional=opt_decimal(_num(cost.get("max"))),
        order_types=frozenset(order_types),
        time_in_force=frozenset(time_in_force),
        post_only=post_only,
        quote_quantity_market=quote_quantity_market,
        trading=market.get("active") is not False,
        amend=amend,
    )


def _num(value: Any) -> Any:
    """A market limit as text: ccxt computes some limits as numbers even with ``number = str``
    (an int stays an int, a float goes through its shortest repr, never its binary expansion)."""
    if isinstance(value, float):
        return repr(value)
    return value
