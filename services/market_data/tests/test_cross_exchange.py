from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from eip.exchanges.contract.market_data import Ticker, Trade
from eip.market_data.cross_exchange import CrossExchangeView

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
D = Decimal


def ticker(exchange: str, bid: str, ask: str, age_s: float) -> Ticker:
    at = NOW - timedelta(seconds=age_s)
    return Ticker(
        exchange, "BTC/USDT", D(bid), D("1"), D(ask), D("2"), None,
        None, None, None, None, None, at, at,
    )  # fmt: skip


def trade(exchange: str, price: str, amount: str, age_s: float) -> Trade:
    at = NOW - timedelta(seconds=age_s)
    return Trade(exchange, "BTC/USDT", "t", D(price), D(amount), None, at, at)


def test_best_bid_and_ask_come_from_different_exchanges() -> None:
    v = CrossExchangeView(stale_after_s=10, window_s=60)
    v.on_ticker(ticker("binance", "100", "102", 1))
    v.on_ticker(ticker("kraken", "101", "103", 2))
    view = v.view("BTC/USDT", NOW)
    assert view is not None
    assert view.best_bid is not None
    assert (view.best_bid.exchange, view.best_bid.price) == ("kraken", D(101))
    assert view.best_ask is not None
    assert (view.best_ask.exchange, view.best_ask.price) == ("binance", D(102))
    assert [c.exchange for c in view.contributions] == ["binance", "kraken"]
    assert view.excluded == []


def test_vwap_weights_by_volume_within_the_window() -> None:
    v = CrossExchangeView(stale_after_s=100, window_s=60)
    v.on_trade(trade("binance", "50", "10", 90))  # outside the window
    v.on_trade(trade("binance", "100", "1", 30))
    v.on_trade(trade("kraken", "110", "3", 5))
    view = v.view("BTC/USDT", NOW)
    assert view is not None
    assert view.volume == D(4)
    assert view.vwap == (D(100) + D(330)) / D(4)
    shares = {c.exchange: c.volume_share for c in view.contributions}
    assert shares == {"binance": D("0.25"), "kraken": D("0.75")}


def test_stale_exchanges_are_left_out_and_listed_with_their_age() -> None:
    v = CrossExchangeView(stale_after_s=10, window_s=60)
    v.on_ticker(ticker("binance", "100", "102", 1))
    v.on_ticker(ticker("kraken", "105", "106", 20))  # best bid, but stale
    v.on_trade(trade("kraken", "105", "100", 20))
    view = v.view("BTC/USDT", NOW)
    assert view is not None
    assert view.best_bid is not None
    assert view.best_bid.exchange == "binance"
    assert view.volume == D(0)
    assert view.vwap is None
    assert [(e.exchange, round(e.age_s)) for e in view.excluded] == [("kraken", 20)]


def test_unknown_symbol_has_no_view() -> None:
    assert CrossExchangeView(10, 60).view("ETH/USDT", NOW) is None
