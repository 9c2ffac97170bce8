"""What the public Coinbase channels other than ``level2`` carry, built from the exchange's
state: ``ticker`` / ``ticker_batch`` entries, ``candles`` (five-minute buckets, as Coinbase's
channel has), ``market_trades`` and the ``status`` channel's products.

The 24 h figures come from the core's trade history (one-minute candles); the "52 week" low and
high are over the history the simulator keeps (31 days of minutes).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eip.exchange_simulator.coinbase import wire
from eip.exchange_simulator.coinbase.orders import plain
from eip.exchange_simulator.core.candles import DAY_MS, MINUTE_MS
from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.instruments import Instrument

CANDLE_MS = 5 * MINUTE_MS
YEAR_MS = 365 * DAY_MS
TRADES_SNAPSHOT = 50  # recent trades sent when market_trades is subscribed


def ticker(exchange: Exchange, inst: Instrument) -> dict[str, Any]:
    engine = exchange.engine(inst.symbol)
    history = exchange.history[inst.symbol]
    now = exchange.now_ms()
    day, year = history.window(now, DAY_MS), history.window(now, YEAR_MS)
    last = engine.last_price
    bid, ask = engine.book.bids.best(), engine.book.asks.best()
    price_dp, qty_dp = inst.price_decimals, inst.qty_decimals

    def price(value: Decimal | None) -> str:
        return "" if value is None else fixed(value, price_dp)

    change = (day.close - day.open) / day.open * 100 if day is not None and day.open else None
    return {
        "type": "ticker",
        "product_id": wire.product_id(inst),
        "price": price(last),
        "volume_24_h": fixed(day.volume if day else Decimal(0), qty_dp),
        "low_24_h": price(day.low if day else None),
        "high_24_h": price(day.high if day else None),
        "low_52_w": price(year.low if year else None),
        "high_52_w": price(year.high if year else None),
        "price_percent_chg_24_h": "" if change is None else plain(change.quantize(Decimal("1e-8"))),
        "best_bid": price(bid.price if bid else None),
        "best_bid_quantity": fixed(bid.total, qty_dp) if bid else "",
        "best_ask": price(ask.price if ask else None),
        "best_ask_quantity": fixed(ask.total, qty_dp) if ask else "",
    }


def candle(exchange: Exchange, inst: Instrument) -> dict[str, str] | None:
    """The current five-minute candle, None before the product's first trade."""
    history = exchange.history[inst.symbol]
    last = history.last
    if last is None:
        return None
    start = last.time_ms - last.time_ms % CANDLE_MS
    (current,) = history.candles("5m", start, None, 1)
    return {
        "start": str(current.open_time // 1000),
        "high": fixed(current.high, inst.price_decimals),
        "low": fixed(current.low, inst.price_decimals),
        "open": fixed(current.open, inst.price_decimals),
        "close": fixed(current.close, inst.price_decimals),
        "volume": fixed(current.volume, inst.qty_decimals),
        "product_id": wire.product_id(inst),
    }


def recent_trades(exchange: Exchange, inst: Instrument) -> list[dict[str, str]]:
    """The newest trades, newest first (the ``market_trades`` snapshot)."""
    trades = list(exchange.history[inst.symbol].trades)[-TRADES_SNAPSHOT:]
    return [wire.market_trade(inst, t) for t in reversed(trades)]


def status_product(inst: Instrument) -> dict[str, str]:
    return {
        "product_type": "SPOT",
        "id": wire.product_id(inst),
        "base_currency": inst.base,
        "quote_currency": inst.quote,
        "base_increment": str(inst.step_size),
        "quote_increment": str(inst.tick_size),
        "display_name": wire.product_id(inst),
        "status": "online" if inst.status == "TRADING" else "offline",
        "status_message": "",
        "min_market_funds": str(inst.min_notional),
    }
