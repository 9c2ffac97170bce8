"""Real frames recorded from Binance and Kraken (``payloads/*/ws_frames.jsonl``, excerpts of
``data/recorded``) through the native Binance parser and through ccxt's parsers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eip.exchanges.binance.wire import TickerMerger, agg_trade
from eip.exchanges.ccxt import parse as ccxt_parse
from eip.exchanges.ccxt.market_data import new_client

from .payload_harness import PAYLOADS, market

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def frames(exchange: str, kind: str) -> list[Any]:
    lines = (PAYLOADS / exchange / "ws_frames.jsonl").read_text().splitlines()
    found = [json.loads(rec["data"]) for rec in map(json.loads, lines) if rec["kind"] == kind]
    assert found, f"no {kind} frames for {exchange}"
    return found


def test_binance_agg_trades_native_and_ccxt_agree_exactly() -> None:
    client = new_client("binance")
    nkn = {**market("binance"), "id": "NKNUSDT", "symbol": "NKN/USDT"}
    nkn |= {"base": "NKN", "quote": "USDT", "baseId": "NKN", "quoteId": "USDT"}
    client.set_markets([nkn])
    for frame in frames("binance", "aggTrade"):
        data = frame["data"]
        native = agg_trade("NKN/USDT", data, NOW)
        via_ccxt = ccxt_parse.trade(
            "binance", client.parse_ws_trade(data, client.market("NKN/USDT")), NOW
        )
        assert native.price == Decimal(data["p"])
        assert native.amount == Decimal(data["q"])
        assert native.taker_side == ("sell" if data["m"] else "buy")
        assert native.exchange_time == datetime.fromtimestamp(data["T"] / 1000, tz=UTC)
        assert (via_ccxt.trade_id, via_ccxt.price, via_ccxt.amount, via_ccxt.taker_side) == (
            native.trade_id,
            native.price,
            native.amount,
            native.taker_side,
        )
        assert via_ccxt.exchange_time == native.exchange_time
        assert via_ccxt.symbol == "NKN/USDT"


def test_binance_book_tickers_feed_the_merged_ticker() -> None:
    merger = TickerMerger("NKN/USDT")
    for frame in frames("binance", "bookTicker"):
        data = frame["data"]
        ticker = merger.on_book(data, NOW)
        assert ticker.bid == Decimal(data["b"])
        assert ticker.bid_size == Decimal(data["B"])
        assert ticker.ask == Decimal(data["a"])
        assert ticker.ask_size == Decimal(data["A"])


def test_kraken_v1_trades_and_tickers_through_ccxt_parsers() -> None:
    # ccxt.pro 4.5.90 speaks Kraken WebSocket v2; a v1 trade row is the REST ``Trades`` row
    # without its id and a v1 ticker is the REST ``Ticker`` object, so ccxt's REST parsers
    # read the recorded v1 frames as they stand.
    client = new_client("kraken")
    rows = []
    for frame in frames("kraken", "trade") + frames("kraken", "ticker"):
        base, quote = frame[3].split("/")
        rows.append({**market("kraken"), "id": base + quote, "symbol": frame[3], "base": base})
        rows[-1] |= {"quote": quote, "baseId": base, "quoteId": quote, "wsId": frame[3]}
    client.set_markets(rows)
    for frame in frames("kraken", "trade"):
        for raw, parsed in zip(
            frame[1], client.parse_trades(frame[1], client.market(frame[3])), strict=True
        ):
            trade = ccxt_parse.trade("kraken", parsed, NOW)
            assert trade.symbol == frame[3]
            assert trade.price == Decimal(raw[0])
            assert trade.amount == Decimal(raw[1])
            assert trade.taker_side == {"b": "buy", "s": "sell"}[raw[3]]
            assert trade.exchange_time == datetime.fromtimestamp(
                int(Decimal(raw[2]) * 1000) / 1000, tz=UTC
            )
    for frame in frames("kraken", "ticker"):
        raw = frame[1]
        ticker = ccxt_parse.ticker("kraken", client.parse_ticker(raw, client.market(frame[3])), NOW)
        assert ticker.bid == Decimal(raw["b"][0])
        assert ticker.ask == Decimal(raw["a"][0])
        assert ticker.last == Decimal(raw["c"][0])
        assert ticker.high_24h == Decimal(raw["h"][1])
        assert ticker.base_volume_24h == Decimal(raw["v"][1])
