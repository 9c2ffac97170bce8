"""BitMEX payloads (see payloads/README.md) through the adapter's parse path: exact values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eip.exchanges.bitmex import candles
from eip.exchanges.bitmex import wire as parse
from eip.exchanges.bitmex.market_data import BitmexMarketDataAdapter
from eip.exchanges.bitmex.symbols import symbol_map
from eip.exchanges.contract.market_data import Ticker, Trade

PAYLOADS = Path(__file__).parent.parent / "payloads" / "bitmex"
RECEIVED = datetime(2024, 11, 25, 10, 35, 3, tzinfo=UTC)


def load(name: str) -> Any:
    return parse.loads((PAYLOADS / name).read_bytes())


def frames() -> list[Any]:
    return [parse.loads(line) for line in (PAYLOADS / "ws_frames.jsonl").read_text().splitlines()]


def test_instruments_map_to_platform_symbols() -> None:
    symbols = symbol_map(load("instruments.json"))
    assert symbols.to_symbol == {
        "XBTUSD": "BTC/USD:BTC",
        "XBTUSDT": "BTC/USDT:USDT",
        "XBT_USDT": "BTC/USDT",
        "XBTZ24": "BTC/USD:BTC-241227",
    }  # the .BXBT index is not a market
    assert symbols.exchange_id("BTC/USDT") == "XBT_USDT"


def test_numbers_are_decimals_from_the_json_text() -> None:
    row = load("trades.json")[0]
    assert row["price"] == Decimal("98949.5")
    assert isinstance(row["homeNotional"], Decimal)
    assert row["homeNotional"] == Decimal("0.00060637")  # a float would be 0.000606370000...


def test_trades_parse_exactly() -> None:
    sell, buy = (parse.trade("BTC/USD:BTC", r, RECEIVED) for r in load("trades.json"))
    assert sell == Trade(
        exchange="bitmex",
        symbol="BTC/USD:BTC",
        trade_id="00000000-006d-1000-0000-0015c2a91f03",
        price=Decimal("98949.5"),
        amount=Decimal("0.00060637"),  # homeNotional: base quantity, not 60 USD contracts
        taker_side="sell",
        exchange_time=datetime(2024, 11, 25, 10, 34, 51, 613000, tzinfo=UTC),
        received_time=RECEIVED,
    )
    assert buy.taker_side == "buy"
    assert buy.price == Decimal("98950")
    assert buy.amount == Decimal("0.00202122")


def test_instrument_row_is_a_ticker() -> None:
    ticker = parse.TickerState("BTC/USD:BTC").on_instrument(
        load("instrument_ticker.json")[0], RECEIVED
    )
    assert ticker.bid == Decimal("98949.5")
    assert ticker.ask == Decimal("98950")
    assert ticker.last == Decimal("98950")
    assert ticker.open_24h == Decimal("97120.5")
    assert ticker.high_24h == Decimal("99480")
    assert ticker.low_24h == Decimal("96310.5")
    assert ticker.base_volume_24h == Decimal("4207.12345678")
    assert ticker.quote_volume_24h == Decimal("412345600")
    assert ticker.bid_size is None  # contracts, not base quantity
    assert ticker.exchange_time == datetime(2024, 11, 25, 10, 35, 1, tzinfo=UTC)


def test_bucket_timestamp_is_the_close_so_open_time_is_a_bin_earlier() -> None:
    first = parse.bucket("BTC/USD:BTC", "5m", load("ohlcv_5m.json")[0])
    assert first.open_time == datetime(2024, 11, 25, 10, 0, tzinfo=UTC)
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("98800"),
        Decimal("98900.5"),
        Decimal("98750"),
        Decimal("98880"),
    )
    assert first.base_volume == Decimal("15.1776")
    assert first.quote_volume == Decimal("1500000")
    assert first.trade_count == 120


def test_15m_is_three_aligned_5m_buckets_and_incomplete_groups_are_dropped() -> None:
    buckets = [parse.bucket("BTC/USD:BTC", "5m", r) for r in load("ohlcv_5m.json")]
    rolled = candles.roll_up(buckets, "15m")
    assert len(rolled) == 1  # 10:15 has only one of its three buckets
    candle = rolled[0]
    assert candle.timeframe == "15m"
    assert candle.open_time == datetime(2024, 11, 25, 10, 0, tzinfo=UTC)
    assert candle.open == Decimal("98800")
    assert candle.high == Decimal("99010")
    assert candle.low == Decimal("98700")
    assert candle.close == Decimal("98720.5")
    assert candle.base_volume == Decimal("15.1776") + Decimal("12.1273") + Decimal("18.2111")
    assert candle.quote_volume == Decimal("4500000")
    assert candle.trade_count == 355


def test_align_up() -> None:
    at = datetime(2024, 11, 25, 10, 1, tzinfo=UTC)
    assert candles.align_up(at, "15m") == datetime(2024, 11, 25, 10, 15, tzinfo=UTC)
    assert candles.align_up(at, "4h") == datetime(2024, 11, 25, 12, 0, tzinfo=UTC)
    exact = datetime(2024, 11, 25, 12, 0, tzinfo=UTC)
    assert candles.align_up(exact, "4h") == exact


async def test_ws_frames_partial_insert_update_and_quote() -> None:
    adapter = BitmexMarketDataAdapter()
    adapter._symbols = symbol_map(load("instruments.json"))
    await adapter.subscribe("trades", "BTC/USD:BTC")
    await adapter.subscribe("ticker", "BTC/USD:BTC")
    events: list[Trade | Ticker] = []
    for msg in frames():
        if "table" in msg:
            events += await adapter.handle_table(msg["table"], msg["action"], msg["data"])
    trades = [e for e in events if isinstance(e, Trade)]
    tickers = [e for e in events if isinstance(e, Ticker)]
    # the partial's trade is history (the backfill's job); only the insert is live
    assert [t.trade_id for t in trades] == ["00000000-006d-1000-0000-0015c2a91f1e"]
    assert [t.last for t in tickers] == [Decimal("98950"), Decimal("98951.5"), Decimal("98951.5")]
    final = tickers[-1]
    assert (final.bid, final.ask) == (Decimal("98951"), Decimal("98951.5"))
    assert final.high_24h == Decimal("99480")  # kept from the partial through the update
    assert final.exchange_time == datetime(2024, 11, 25, 10, 35, 2, 500000, tzinfo=UTC)
    await adapter.close()


async def test_unparseable_row_counts_an_error_and_emits_nothing() -> None:
    adapter = BitmexMarketDataAdapter()
    adapter._symbols = symbol_map(load("instruments.json"))
    await adapter.subscribe("trades", "BTC/USD:BTC")
    bad = {"symbol": "XBTUSD", "timestamp": "2024-11-25T10:35:00Z", "price": "x", "side": "Buy"}
    assert await adapter.handle_table("trade", "insert", [bad]) == []
    assert adapter.status().errors == 1
    await adapter.close()


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="without zone"):
        parse.utc("2024-11-25T10:35:00")
