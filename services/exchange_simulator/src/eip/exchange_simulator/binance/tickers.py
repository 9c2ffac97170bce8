"""The 24 h ticker and book ticker of an instrument, shared by REST and streams."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eip.exchange_simulator.binance.wire import d8
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.instruments import Instrument

ZERO = Decimal(0)


def ticker_24h(ex: Exchange, inst: Instrument, now_ms: int, mini: bool) -> dict[str, Any]:
    history = ex.history[inst.symbol]
    window, last = history.window(now_ms), history.last
    open_ = window.open if window else ZERO
    close = window.close if window else ZERO
    body: dict[str, Any] = {
        "symbol": inst.symbol,
        "openPrice": d8(open_),
        "highPrice": d8(window.high if window else ZERO),
        "lowPrice": d8(window.low if window else ZERO),
        "lastPrice": d8(close),
        "volume": d8(window.volume if window else ZERO),
        "quoteVolume": d8(window.quote_volume if window else ZERO),
        "openTime": now_ms - 86_400_000,
        "closeTime": now_ms,
        "firstId": window.first_trade_id if window else -1,
        "lastId": window.last_trade_id if window else -1,
        "count": window.trades if window else 0,
    }
    if mini:
        return body
    bid, ask = best(ex, inst.symbol)
    change = close - open_
    body.update(
        {
            "priceChange": d8(change),
            "priceChangePercent": f"{(change / open_ * 100) if open_ else ZERO:.3f}",
            "weightedAvgPrice": d8(
                window.quote_volume / window.volume if window and window.volume else ZERO
            ),
            "prevClosePrice": d8(open_),
            "lastQty": d8(last.qty if last else ZERO),
            "bidPrice": d8(bid[0]),
            "bidQty": d8(bid[1]),
            "askPrice": d8(ask[0]),
            "askQty": d8(ask[1]),
        }
    )
    return body


def best(ex: Exchange, symbol: str) -> tuple[tuple[Decimal, Decimal], tuple[Decimal, Decimal]]:
    engine = ex.engine(symbol)
    bid, ask = engine.book.bids.best(), engine.book.asks.best()
    return (
        (bid.price, bid.total) if bid else (ZERO, ZERO),
        (ask.price, ask.total) if ask else (ZERO, ZERO),
    )


def book_ticker(ex: Exchange, inst: Instrument) -> dict[str, Any]:
    bid, ask = best(ex, inst.symbol)
    return {
        "symbol": inst.symbol,
        "bidPrice": d8(bid[0]),
        "bidQty": d8(bid[1]),
        "askPrice": d8(ask[0]),
        "askQty": d8(ask[1]),
    }


def ticker_event(ex: Exchange, inst: Instrument, now_ms: int) -> dict[str, Any]:
    t = ticker_24h(ex, inst, now_ms, mini=False)
    return {
        "e": "24hrTicker",
        "E": now_ms,
        "s": inst.symbol,
        "p": t["priceChange"],
        "P": t["priceChangePercent"],
        "w": t["weightedAvgPrice"],
        "x": t["prevClosePrice"],
        "c": t["lastPrice"],
        "Q": t["lastQty"],
        "b": t["bidPrice"],
        "B": t["bidQty"],
        "a": t["askPrice"],
        "A": t["askQty"],
        "o": t["openPrice"],
        "h": t["highPrice"],
        "l": t["lowPrice"],
        "v": t["volume"],
        "q": t["quoteVolume"],
        "O": t["openTime"],
        "C": t["closeTime"],
        "F": t["firstId"],
        "L": t["lastId"],
        "n": t["count"],
    }
