"""ccxt's unified structures → the market-data contract.

The ccxt instance runs with ``exchange.number = str``: every ``parse_number`` then returns the
venue's own text (or, where the venue sent a JSON number, Python's shortest round-trip repr of
it), so ``Decimal`` never sees a binary float's expansion. A value that is still a float is
refused rather than rounded silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from eip.exchanges.contract.market_data import Ohlcv, TakerSide, Ticker, Timeframe, Trade
from eip.exchanges.contract.symbols import normalize_asset


def normalize_symbol(ccxt_symbol: str) -> str:
    """ccxt's ``BASE/QUOTE[:SETTLE]`` with every asset through ``normalize_asset``."""
    pair, _, settle = ccxt_symbol.partition(":")
    base, _, quote = pair.partition("/")
    if not base or not quote:
        raise ValueError(f"not a BASE/QUOTE symbol: {ccxt_symbol!r}")
    symbol = f"{normalize_asset(base)}/{normalize_asset(quote)}"
    return f"{symbol}:{normalize_asset(settle)}" if settle else symbol


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"expected a decimal string, got {value!r}")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return result


def opt_decimal(value: Any) -> Decimal | None:
    return None if value is None else to_decimal(value)


def ms_to_utc(ms: Any) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def _side(value: Any) -> TakerSide | None:
    if value == "buy":
        return "buy"
    if value == "sell":
        return "sell"
    return None


_FALLBACK_ID_KEYS = ("sequence", "seq", "tradeId", "trade_id")


# An inverse contract's base quantity (contracts x size / price) rarely ends; kept to 12 places,
# as the native BitMEX and the Bybit v2 replay paths keep theirs.
BASE_AMOUNT_QUANTUM = Decimal("1e-12")


def base_amount(amount: Decimal, price: Decimal, market: Mapping[str, Any] | None) -> Decimal:
    """The base quantity of a trade of ``amount`` at ``price``. ccxt counts a contract market's
    trade amount in contracts; the platform's vocabulary is base quantity: a linear contract
    holds ``contractSize`` base, an inverse one is worth ``contractSize`` quote."""
    if market is None or not market.get("contract"):
        return amount
    if market.get("contractSize") is None:
        raise ValueError(f"contract market {market.get('symbol')!r} has no contractSize")
    if market.get("quanto"):
        # settled in a third currency: neither formula gives its base quantity
        raise ValueError(f"quanto contract market {market.get('symbol')!r} is not supported")
    size = to_decimal(market["contractSize"])
    if not market.get("inverse"):
        return amount * size
    if price <= 0:
        raise ValueError(f"inverse contract trade at a non-positive price {price}")
    return (amount * size / price).quantize(BASE_AMOUNT_QUANTUM, ROUND_HALF_EVEN)


def trade(
    exchange: str,
    raw: Mapping[str, Any],
    received: datetime,
    market: Mapping[str, Any] | None = None,
) -> Trade:
    """``market``: ccxt's market of the trade's symbol, to turn contracts into base quantity
    (spot when ``None``)."""
    trade_id = raw.get("id")
    if trade_id is None:
        # ccxt leaves the id empty where the venue names it otherwise (KuCoin's histories
        # carry only a per-symbol "sequence"); a made-up id would collide within a millisecond
        info = raw.get("info")
        if isinstance(info, Mapping):
            trade_id = next((info[k] for k in _FALLBACK_ID_KEYS if info.get(k) is not None), None)
    if trade_id is None:
        trade_id = f"{raw.get('timestamp')}-{raw.get('price')}-{raw.get('amount')}"
    price = to_decimal(raw["price"])
    return Trade(
        exchange=exchange,
        symbol=normalize_symbol(raw["symbol"]),
        trade_id=str(trade_id),
        price=price,
        amount=base_amount(to_decimal(raw["amount"]), price, market),
        taker_side=_side(raw.get("side")),
        exchange_time=ms_to_utc(raw.get("timestamp")),
        received_time=received,
    )


def _level_size(
    size: Any, price: Decimal | None, market: Mapping[str, Any] | None
) -> Decimal | None:
    """A best bid/ask size in base quantity (ccxt gives contracts for contract markets)."""
    amount = opt_decimal(size)
    if amount is None:
        return None
    if market is not None and market.get("contract"):
        if price is None:
            return None  # an inverse size without its price has no base quantity
        return base_amount(amount, price, market)
    return amount


def ticker(
    exchange: str,
    raw: Mapping[str, Any],
    received: datetime,
    market: Mapping[str, Any] | None = None,
) -> Ticker:
    """``market`` as for ``trade``: best bid/ask sizes of contract markets in base quantity."""
    bid, ask = opt_decimal(raw.get("bid")), opt_decimal(raw.get("ask"))
    return Ticker(
        exchange=exchange,
        symbol=normalize_symbol(raw["symbol"]),
        bid=bid,
        bid_size=_level_size(raw.get("bidVolume"), bid, market),
        ask=ask,
        ask_size=_level_size(raw.get("askVolume"), ask, market),
        last=opt_decimal(raw.get("last")),
        open_24h=opt_decimal(raw.get("open")),
        high_24h=opt_decimal(raw.get("high")),
        low_24h=opt_decimal(raw.get("low")),
        base_volume_24h=opt_decimal(raw.get("baseVolume")),
        quote_volume_24h=opt_decimal(raw.get("quoteVolume")),
        exchange_time=ms_to_utc(raw.get("timestamp")),
        received_time=received,
    )


def ohlcv(exchange: str, symbol: str, timeframe: Timeframe, row: Sequence[Any]) -> Ohlcv:
    """ccxt's ``[timestamp, open, high, low, close, volume]``."""
    open_time = ms_to_utc(row[0])
    if open_time is None:
        raise ValueError("candle without a time")
    return Ohlcv(
        exchange=exchange,
        symbol=symbol,
        timeframe=timeframe,
        open_time=open_time,
        open=to_decimal(row[1]),
        high=to_decimal(row[2]),
        low=to_decimal(row[3]),
        close=to_decimal(row[4]),
        base_volume=to_decimal(row[5]),
        quote_volume=None,
        trade_count=None,
    )
