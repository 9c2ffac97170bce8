"""BitMEX's private payloads ↔ the trading contract: order parameters, orders (REST answers and
``order`` table rows), executions, margin rows, instrument rules, and the table of BitMEX's
refusals → ``RejectReason``.

**Quantities.** BitMEX's ``orderQty``, ``cumQty``, ``leavesQty``, ``lastQty``, ``lotSize`` and
``maxOrderQty`` count *contracts*; the contract says base quantity. For the instruments this
adapter trades a contract is a fixed amount of the base asset, 1/``underlyingToPositionMultiplier``
of it: spot ``XBT_USDT`` counts satoshis (10 000 = 0.0001 BTC), the linear ``XBTUSDT`` millionths
of a BTC (1 000 = 0.001 BTC). So base = contracts / multiplier and back, exactly, in Decimal; a
base quantity that is not a whole number of contracts is refused before sending (lot size).
Inverse (``XBTUSD``: one contract is one USD, whatever BTC is worth) and quanto contracts have
no fixed base amount and are not listed (``contract`` answers None).

**Money units.** Margin and fees are integers of the settlement currency's smallest unit
(``XBt`` = 1e-8 XBT, ``USDt`` = 1e-6 USDT, ``Gwei`` = 1e-9 ETH): ``CURRENCY_UNITS``. Numbers
arrive as JSON numbers and are decoded as Decimal (``wire.loads``), never as floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eip.exchanges.bitmex.assets import ASSET_CODES
from eip.exchanges.bitmex.symbols import FUTURE, PERPETUAL, SPOT, instrument_symbol
from eip.exchanges.bitmex.wire import EXCHANGE, dec, utc
from eip.exchanges.contract.errors import NotSupported, OrderRejected, RejectReason
from eip.exchanges.contract.symbols import normalize_asset
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

# clOrdID: up to 36 characters (BitMEX's documented maximum)
CLIENT_ORDER_IDS = ClientOrderIdRules(max_length=36, alphabet="A-Za-z0-9_-")
ZERO = Decimal(0)
POST_ONLY = "ParticipateDoNotInitiate"
REDUCE_ONLY = "ReduceOnly"
TRAILING_PEG = "TrailingStopPeg"

# settlement/margin currency → (asset, units per one asset), from the package's one table of
# balance codes (bitmex/assets.py: XBt = 1e-8 BTC, USDt = 1e-6 USDT, Gwei = 1e-9 ETH)
CURRENCY_UNITS: Mapping[str, tuple[str, Decimal]] = {
    code: (unit.asset, (1 / unit.scale).quantize(Decimal(1)))
    for code, unit in ASSET_CODES.units.items()
}

_TYPE_OUT: Mapping[OrderType, str] = {
    OrderType.MARKET: "Market",
    OrderType.LIMIT: "Limit",
    OrderType.STOP_MARKET: "Stop",
    OrderType.STOP_LIMIT: "StopLimit",
    OrderType.TAKE_PROFIT_MARKET: "MarketIfTouched",
    OrderType.TAKE_PROFIT_LIMIT: "LimitIfTouched",
    OrderType.TRAILING_STOP_MARKET: "Stop",  # + pegPriceType TrailingStopPeg
    OrderType.TRAILING_STOP_LIMIT: "StopLimit",
}
_TYPE_IN: Mapping[str, OrderType] = {
    "Market": OrderType.MARKET,
    "Limit": OrderType.LIMIT,
    "Stop": OrderType.STOP_MARKET,
    "StopLimit": OrderType.STOP_LIMIT,
    "MarketIfTouched": OrderType.TAKE_PROFIT_MARKET,
    "LimitIfTouched": OrderType.TAKE_PROFIT_LIMIT,
}
_TIF_OUT: Mapping[TimeInForce, str] = {
    TimeInForce.GTC: "GoodTillCancel",
    TimeInForce.IOC: "ImmediateOrCancel",
    TimeInForce.FOK: "FillOrKill",
}
_TIF_IN = {value: key for key, value in _TIF_OUT.items()}
_STATUS: Mapping[str, VenueOrderStatus] = {
    "New": VenueOrderStatus.OPEN,
    "PartiallyFilled": VenueOrderStatus.PARTIALLY_FILLED,
    "Filled": VenueOrderStatus.FILLED,
    "Canceled": VenueOrderStatus.CANCELED,
    "Rejected": VenueOrderStatus.REJECTED,
    "Expired": VenueOrderStatus.EXPIRED,
}

# BitMEX answers refusals as HTTP 400 {"error": {"message": ..., "name": "HTTPError"}}; the
# message is the only code it gives. Matched by prefix, longest first; anything else is OTHER.
REJECT_REASONS: Mapping[str, RejectReason] = {
    "Account has insufficient Available Balance": RejectReason.INSUFFICIENT_FUNDS,
    "Account has zero": RejectReason.INSUFFICIENT_FUNDS,
    "Insufficient funds": RejectReason.INSUFFICIENT_FUNDS,
    "Duplicate clOrdID": RejectReason.DUPLICATE_CLIENT_ORDER_ID,
    "Invalid ordStatus": RejectReason.ORDER_NOT_AMENDABLE,
    "Invalid amend": RejectReason.ORDER_NOT_AMENDABLE,
    "Invalid price tickSize": RejectReason.PRICE_FILTER,
    "Invalid price": RejectReason.PRICE_FILTER,
    "Invalid stopPx": RejectReason.PRICE_FILTER,
    "Price greater than limit": RejectReason.PRICE_FILTER,
    "Price less than limit": RejectReason.PRICE_FILTER,
    "Invalid orderQty lotSize": RejectReason.LOT_SIZE,
    "Invalid orderQty": RejectReason.LOT_SIZE,
    "orderQty is invalid": RejectReason.LOT_SIZE,
    "Order quantity": RejectReason.LOT_SIZE,
    "Order value is below the minimum": RejectReason.MIN_NOTIONAL,
    "Invalid symbol": RejectReason.UNKNOWN_SYMBOL,
    "Instrument not listed for trading yet": RejectReason.MARKET_CLOSED,
    "Instrument expired": RejectReason.MARKET_CLOSED,
    "Trading is currently paused": RejectReason.MARKET_CLOSED,
    "Access Denied": RejectReason.PERMISSION_DENIED,
    "Invalid ordType": RejectReason.INVALID_ORDER,
    "Invalid execInst": RejectReason.INVALID_ORDER,
    "Invalid timeInForce": RejectReason.INVALID_ORDER,
    "Invalid side": RejectReason.INVALID_ORDER,
}
# the key itself refused, whatever the HTTP status (401, or 403 for a disabled key)
KEY_REFUSED = ("Invalid API Key", "This key is disabled", "Signature not valid", "Invalid expires")
_REJECT_PREFIXES = sorted(REJECT_REASONS, key=len, reverse=True)
# the text BitMEX gives a post-only order it canceled because it would have taken
POST_ONLY_CANCELED = "Canceled: Order had execInst of ParticipateDoNotInitiate"


def reject_reason(message: str) -> RejectReason:
    for prefix in _REJECT_PREFIXES:
        if message.startswith(prefix):
            return REJECT_REASONS[prefix]
    return RejectReason.OTHER


@dataclass(frozen=True, slots=True)
class Contract:
    """What a symbol's quantities mean on the wire (module docstring: *Quantities*)."""

    symbol: str
    venue_symbol: str
    per_base: Decimal  # contracts in one unit of the base asset
    lot: Decimal  # contracts
    spot: bool

    def to_base(self, contracts: Decimal) -> Decimal:
        return (contracts / self.per_base).normalize() + ZERO

    def to_contracts(self, base: Decimal) -> int:
        contracts = base * self.per_base
        if contracts != contracts.to_integral_value() or contracts <= 0:
            raise OrderRejected(
                EXCHANGE,
                RejectReason.LOT_SIZE,
                f"{base} is not a whole number of contracts ({1 / self.per_base} each)",
            )
        return int(contracts)


def contract(row: Mapping[str, Any]) -> Contract | None:
    """The contract of an ``/instrument`` row, or None for what this adapter does not trade
    (inverse and quanto contracts, indices, options)."""
    if (
        row.get("typ") not in (SPOT, PERPETUAL, FUTURE)
        or row.get("isInverse")
        or row.get("isQuanto")
    ):
        return None
    symbol = instrument_symbol(row)
    multiplier = row.get("underlyingToPositionMultiplier")
    if symbol is None or multiplier is None or dec(multiplier) <= 0:
        return None
    return Contract(
        symbol=symbol,
        venue_symbol=str(row["symbol"]),
        per_base=dec(multiplier),
        lot=dec(row.get("lotSize") or 1),
        spot=row.get("typ") == SPOT,
    )


def instrument_rules(row: Mapping[str, Any], found: Contract) -> InstrumentRules:
    lot = found.to_base(found.lot)
    max_qty = row.get("maxOrderQty")
    return InstrumentRules(
        symbol=found.symbol,
        base=normalize_asset(str(row["underlying"])),
        quote=normalize_asset(str(row["quoteCurrency"])),
        tick_size=dec(row["tickSize"]),
        lot_size=lot,
        min_quantity=lot,
        max_quantity=None if max_qty is None else found.to_base(dec(max_qty)),
        min_notional=None,
        order_types=frozenset(OrderType),
        time_in_force=frozenset(_TIF_OUT),
        post_only=True,
        quote_quantity_market=False,
        trading=row.get("state") == "Open",
        amend=True,
        oco=False,
    )


def wire_decimal(value: Decimal) -> str:
    """A Decimal as the form body carries it: no exponent, no trailing zeros."""
    return format(value.normalize() + ZERO, "f")


def order_params(request: OrderRequest, found: Contract) -> dict[str, str]:
    """The form body of ``POST /api/v1/order`` (BitMEX takes form-encoded bodies as well as
    JSON; a form carries the decimals as written, no JSON float in between). Raises
    ``NotSupported`` for what BitMEX has no way to say, ``OrderRejected`` for what it would
    refuse anyway."""
    if request.quantity is None or request.quote_quantity is not None:
        raise NotSupported(EXCHANGE, "BitMEX orders are sized in contracts, not in the quote")
    if request.time_in_force not in _TIF_OUT:
        raise NotSupported(EXCHANGE, f"BitMEX has no {request.time_in_force.value} orders")
    params: dict[str, str] = {
        "symbol": found.venue_symbol,
        "side": "Buy" if request.side == "buy" else "Sell",
        "orderQty": str(found.to_contracts(request.quantity)),
        "ordType": _TYPE_OUT[request.type],
        "clOrdID": request.client_order_id,
    }
    if request.type is not OrderType.MARKET:
        params["timeInForce"] = _TIF_OUT[request.time_in_force]
    if request.type.has_limit_price:
        if request.price is None:
            raise OrderRejected(EXCHANGE, RejectReason.INVALID_ORDER, "a limit price is needed")
        params["price"] = wire_decimal(request.price)
    if request.type.is_trailing:
        trailing = request.trailing
        if trailing is None or trailing.unit != "price":
            raise NotSupported(EXCHANGE, "BitMEX trails by a price distance, not basis points")
        if request.stop_price is not None:
            raise NotSupported(EXCHANGE, "BitMEX trailing stops have no activation price")
        # the trigger follows the price at this distance: below it for a sell, above for a buy
        offset = trailing.value if request.side == "buy" else -trailing.value
        params["pegPriceType"] = TRAILING_PEG
        params["pegOffsetValue"] = wire_decimal(offset)
    elif request.type.is_conditional:
        if request.stop_price is None:
            raise OrderRejected(EXCHANGE, RejectReason.INVALID_ORDER, "a trigger price is needed")
        params["stopPx"] = wire_decimal(request.stop_price)
    instructions = []
    if request.post_only:
        if request.type is not OrderType.LIMIT or request.time_in_force is not TimeInForce.GTC:
            raise OrderRejected(
                EXCHANGE, RejectReason.INVALID_ORDER, "post-only is for GTC limit orders"
            )
        instructions.append(POST_ONLY)
    if request.reduce_only:
        if found.spot:
            raise NotSupported(EXCHANGE, "reduce-only is for derivatives")
        instructions.append(REDUCE_ONLY)
    if instructions:
        params["execInst"] = ",".join(instructions)
    return params


def _time(raw: Mapping[str, Any], key: str) -> datetime | None:
    value = raw.get(key)
    return utc(value) if value else None


def _micros(when: datetime | None) -> int | None:
    if when is None:
        return None
    return int(when.timestamp()) * 1_000_000 + when.microsecond


def side(value: Any) -> OrderSide:
    if value == "Buy":
        return "buy"
    if value == "Sell":
        return "sell"
    raise ValueError(f"not a side: {value!r}")


def order(raw: Mapping[str, Any], contracts: Mapping[str, Contract]) -> VenueOrder:
    """An order row (REST answer or ``order`` table row merged to full). ``sequence`` is its
    update time in microseconds: BitMEX numbers nothing, and ``timestamp`` moves with every
    change of the order."""
    found = contracts[str(raw["symbol"])]
    status = _STATUS[str(raw["ordStatus"])]
    kind = _TYPE_IN.get(str(raw.get("ordType")), OrderType.LIMIT)
    if raw.get("pegPriceType") == TRAILING_PEG:
        kind = (
            OrderType.TRAILING_STOP_LIMIT
            if kind is OrderType.STOP_LIMIT
            else OrderType.TRAILING_STOP_MARKET
        )
    filled = found.to_base(dec(raw.get("cumQty") or 0))
    if kind.is_conditional and status is VenueOrderStatus.OPEN and not raw.get("triggered"):
        status = VenueOrderStatus.UNTRIGGERED
    text = str(raw.get("text") or "")
    updated = _time(raw, "timestamp")
    avg = raw.get("avgPx")
    return VenueOrder(
        exchange=EXCHANGE,
        symbol=found.symbol,
        venue_order_id=str(raw["orderID"]),
        client_order_id=str(raw["clOrdID"]) if raw.get("clOrdID") else None,
        side=side(raw["side"]),
        type=kind,
        status=status,
        quantity=found.to_base(dec(raw["orderQty"])),
        filled_quantity=filled,
        price=dec(raw["price"]) if kind.has_limit_price and raw.get("price") is not None else None,
        stop_price=dec(raw["stopPx"]) if raw.get("stopPx") is not None else None,
        average_price=dec(avg) if avg is not None and filled > 0 else None,
        time_in_force=_TIF_IN.get(str(raw.get("timeInForce"))),
        created_time=_time(raw, "transactTime"),
        updated_time=updated,
        sequence=_micros(updated),
        reason=(text or None) if not status.is_open else None,
    )


def currency_unit(currency: str) -> tuple[str, Decimal] | None:
    """(asset, units per asset) of a BitMEX currency, by its unit name (``XBt``) or its asset
    (``USDT``, as spot rows name it)."""
    if currency in CURRENCY_UNITS:
        return CURRENCY_UNITS[currency]
    asset = normalize_asset(currency) if currency else ""
    for unit_asset, scale in CURRENCY_UNITS.values():
        if unit_asset == asset:
            return unit_asset, scale
    return None


def fee_in(raw: Mapping[str, Any]) -> tuple[Decimal, str | None]:
    """The fee of an execution in a normalized asset: ``execComm`` is in the smallest unit of
    the settlement currency (derivatives) or, where a spot row has none, of ``currency``."""
    comm = raw.get("execComm")
    unit = currency_unit(str(raw.get("settlCurrency") or raw.get("currency") or ""))
    if comm is None or unit is None:
        return ZERO, None
    return (dec(comm) / unit[1]).normalize() + ZERO, unit[0]


def execution(raw: Mapping[str, Any], contracts: Mapping[str, Contract]) -> VenueFill | None:
    """A fill from an execution row (``execution`` table or ``/execution/tradeHistory``);
    None for executions that are not trades (new, canceled, funding, settlement)."""
    if raw.get("execType") != "Trade" or not raw.get("lastQty"):
        return None
    found = contracts[str(raw["symbol"])]
    fee, fee_asset = fee_in(raw)
    liquidity = {"Added": "maker", "Removed": "taker"}.get(str(raw.get("lastLiquidityInd")))
    return VenueFill(
        exchange=EXCHANGE,
        symbol=found.symbol,
        trade_id=str(raw.get("trdMatchID") or raw["execID"]),
        venue_order_id=str(raw["orderID"]),
        client_order_id=str(raw["clOrdID"]) if raw.get("clOrdID") else None,
        side=side(raw["side"]),
        price=dec(raw["lastPx"]),
        quantity=found.to_base(dec(raw["lastQty"])),
        fee=fee,
        fee_asset=fee_asset,
        liquidity=liquidity,  # type: ignore[arg-type]
        time=utc(raw.get("transactTime") or raw["timestamp"]),
    )


def margin_balance(raw: Mapping[str, Any]) -> AssetBalance | None:
    """One margin row (``/user/margin``, the ``margin`` table): free is ``availableMargin``
    (what new orders may use), locked the rest of ``walletBalance`` (held by open orders and
    positions' margin), never below zero (unrealised profit can make available exceed the
    wallet). BitMEX has one wallet per currency for spot and derivatives alike: it is the
    account's ``spot`` wallet here. None for a currency whose unit this adapter does not know."""
    unit = CURRENCY_UNITS.get(str(raw.get("currency")))
    if unit is None:
        return None
    asset, scale = unit
    wallet = dec(raw.get("walletBalance") or raw.get("amount") or 0)
    available = dec(raw.get("availableMargin") or 0)
    free = (available / scale).normalize() + ZERO
    locked = (max(ZERO, wallet - available) / scale).normalize() + ZERO
    return AssetBalance(asset=asset, free=free, locked=locked)


def margin_time(raw: Mapping[str, Any]) -> datetime | None:
    return _time(raw, "timestamp")


def now() -> datetime:
    return datetime.now(UTC)
