"""Bybit v2 ``realtime`` / ``realtime_public`` captures (2021) through ``replay/bybit_v2.py``.

Frames follow Bybit's v2 WebSocket docs: inverse "trade" (``trade.BTCUSD``, JSON-number
``price``/``size``, ``trade_time_ms``) and "instrument_info" (``instrument_info.100ms.BTCUSD``
snapshot with ``*_e4`` prices and ``turnover_24h_e8``, then deltas in ``data.update``); linear
``trade.BTCUSDT`` and ``instrument_info.100ms.BTCUSDT`` with string prices.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eip.exchanges.contract.market_data import Ticker, Trade
from eip.exchanges.machinery.replay import replay
from eip.exchanges.machinery.replay.__main__ import main

from .synthetic import write_capture

SYMBOLS_BODY = {
    "ret_code": 0,
    "result": [
        {"name": "BTCUSD", "base_currency": "BTC", "quote_currency": "USD"},
        {"name": "ETHUSDT", "base_currency": "ETH", "quote_currency": "USDT"},
    ],
}


def _inverse_trade(trade_id: str, price: float, size: int, side: str) -> dict[str, Any]:
    return {
        "topic": "trade.BTCUSD",
        "data": [
            {
                "trade_time_ms": 1618677790123,
                "timestamp": "2021-04-17T16:43:10.000Z",
                "symbol": "BTCUSD",
                "side": side,
                "size": size,
                "price": price,
                "tick_direction": "PlusTick",
                "trade_id": trade_id,
                "cross_seq": 5404769827,
            }
        ],
    }


LINEAR_TRADE = {
    "topic": "trade.ETHUSDT",
    "data": [
        {
            "symbol": "ETHUSDT",
            "tick_direction": "ZeroMinusTick",
            "price": "2412.35",
            "size": 0.07,
            "timestamp": "2021-04-17T16:43:11.000Z",
            "trade_time_ms": "1618677791456",
            "side": "Sell",
            "trade_id": "8d5c1b3e-4a3f-5d0e-9b7a-1f2e3d4c5b6a",
        }
    ],
}

INVERSE_SNAPSHOT = {
    "topic": "instrument_info.100ms.BTCUSD",
    "type": "snapshot",
    "data": {
        "id": 1,
        "symbol": "BTCUSD",
        "last_price_e4": 611655000,
        "bid1_price_e4": 611650000,
        "ask1_price_e4": 611655000,
        "prev_price_24h_e4": 615850000,
        "high_price_24h_e4": 629000000,
        "low_price_24h_e4": 596550000,
        "turnover_24h_e8": 907293987359,
        "volume_24h": 735865248,
        "updated_at": "2021-04-17T16:43:12Z",
    },
    "cross_seq": 1053192577,
    "timestamp_e6": 1618677792000000,
}

INVERSE_DELTA = {
    "topic": "instrument_info.100ms.BTCUSD",
    "type": "delta",
    "data": {
        "delete": [],
        "update": [{"id": 1, "symbol": "BTCUSD", "last_price_e4": 611700000}],
        "insert": [],
    },
}

LINEAR_SNAPSHOT = {
    "topic": "instrument_info.100ms.ETHUSDT",
    "type": "snapshot",
    "data": {
        "symbol": "ETHUSDT",
        "last_price": "2412.35",
        "bid1_price": "2412.30",
        "ask1_price": "2412.40",
        "prev_price_24h": "2380.00",
        "high_price_24h": "2450.00",
        "low_price_24h": "2350.00",
        "volume_24h": "52341.12",
        "turnover_24h": "126270000.5",
    },
}


def _capture(tmp_path: Path, frames: list[Any], http: bool = True) -> Path:
    config = {"trades": ["BTC-USD", "ETH-USDT"], "ticker": ["BTC-USD", "ETH-USDT"]}
    path = write_capture(tmp_path / "c.jsonl", "BYBIT", config, frames)
    if http:
        line = {
            "t": "http",
            "conn": "http",
            "ts": 0,
            "url": "https://api.bybit.com/v2/public/symbols",
            "data": json.dumps(SYMBOLS_BODY),
        }
        lines = path.read_text().splitlines(keepends=True)
        path.write_text(lines[0] + json.dumps(line) + "\n" + "".join(lines[1:]))
    return path


def test_inverse_and_linear_trades(tmp_path: Path) -> None:
    frames = [
        {"success": True, "ret_msg": "", "request": {"op": "subscribe", "args": ["trade"]}},
        _inverse_trade("f6198d62-4d4d-5908-9902-32c3aa5d9cfd", 61165.5, 100, "Buy"),
        LINEAR_TRADE,
    ]
    result = replay(_capture(tmp_path, frames))
    assert result.summary.ok, result.summary.errors
    inverse, linear = [r for r in result.records if isinstance(r, Trade)]
    assert inverse.exchange == "bybit"
    assert inverse.symbol == "BTC/USD:BTC"
    assert inverse.trade_id == "f6198d62-4d4d-5908-9902-32c3aa5d9cfd"
    assert inverse.price == Decimal("61165.5")
    # 100 USD contracts at 61165.5: base amount, rounded half-even to 12 places
    assert inverse.amount == Decimal("0.001634908568")
    assert inverse.taker_side == "buy"
    assert inverse.exchange_time == datetime(2021, 4, 17, 16, 43, 10, 123000, tzinfo=UTC)
    assert (linear.symbol, linear.price, linear.amount) == (
        "ETH/USDT:USDT",
        Decimal("2412.35"),
        Decimal("0.07"),
    )
    assert linear.taker_side == "sell"


def test_json_number_prices_are_read_exactly(tmp_path: Path) -> None:
    # more digits than a binary float keeps: json's float would round this to 60621.5
    path = _capture(tmp_path, [_inverse_trade("t1", 12345.678, 7, "Sell")])
    path.write_text(path.read_text().replace("12345.678", "60621.50000000000000001"))
    (trade,) = replay(path).records
    assert isinstance(trade, Trade)
    assert trade.price == Decimal("60621.50000000000000001")


def test_delta_replaces_both_forms_of_a_field(tmp_path: Path) -> None:
    snapshot = json.loads(json.dumps(INVERSE_SNAPSHOT))
    snapshot["data"]["last_price"] = "61165.50"  # the plain form beside last_price_e4
    result = replay(_capture(tmp_path, [snapshot, INVERSE_DELTA]))
    assert result.summary.ok, result.summary.errors
    first, second = result.records
    assert isinstance(first, Ticker)
    assert isinstance(second, Ticker)
    assert (first.last, second.last) == (Decimal("61165.50"), Decimal("61170"))


def test_instrument_info_snapshot_then_delta(tmp_path: Path) -> None:
    result = replay(_capture(tmp_path, [INVERSE_SNAPSHOT, INVERSE_DELTA, LINEAR_SNAPSHOT]))
    assert result.summary.ok, result.summary.errors
    first, second, linear = [r for r in result.records if isinstance(r, Ticker)]
    assert first.symbol == "BTC/USD:BTC"
    assert (first.bid, first.ask, first.last) == (
        Decimal("61165"),
        Decimal("61165.5"),
        Decimal("61165.5"),
    )
    assert (first.open_24h, first.high_24h, first.low_24h) == (
        Decimal("61585"),
        Decimal("62900"),
        Decimal("59655"),
    )
    # inverse: turnover (e8) is in BTC, volume counts USD contracts
    assert first.base_volume_24h == Decimal("9072.93987359")
    assert first.quote_volume_24h == Decimal("735865248")
    assert first.exchange_time == datetime(2021, 4, 17, 16, 43, 12, tzinfo=UTC)
    assert second.last == Decimal("61170")
    assert second.bid == first.bid  # unchanged fields survive the delta
    assert (linear.symbol, linear.bid, linear.ask) == (
        "ETH/USDT:USDT",
        Decimal("2412.30"),
        Decimal("2412.40"),
    )
    assert (linear.base_volume_24h, linear.quote_volume_24h) == (
        Decimal("52341.12"),
        Decimal("126270000.5"),
    )


def test_symbols_from_the_header_when_no_rest_body(tmp_path: Path) -> None:
    result = replay(_capture(tmp_path, [LINEAR_TRADE], http=False))
    assert result.summary.ok, result.summary.errors
    assert [r.symbol for r in result.records] == ["ETH/USDT:USDT"]


def test_delta_before_snapshot_and_unknown_instruments_fail_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = json.loads(json.dumps(LINEAR_TRADE).replace("ETHUSDT", "XRPUSDT"))
    path = _capture(tmp_path, [INVERSE_DELTA, unknown, _inverse_trade("ok", 61000, 1, "Buy")])
    result = replay(path)
    assert not result.summary.ok
    errors = " ".join(result.summary.errors)
    assert "delta for BTCUSD before its snapshot" in errors
    assert "'XRPUSDT' not described" in errors
    assert [r.trade_id for r in result.records if isinstance(r, Trade)] == ["ok"]
    assert main([str(path), "--out", str(tmp_path / "o.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "not understood" in err


def test_v5_frame_in_a_v2_capture_is_not_skipped(tmp_path: Path) -> None:
    v5 = {
        "topic": "publicTrade.BTCUSDT",
        "type": "snapshot",
        "data": [{"T": 1, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "1", "i": "x"}],
    }
    result = replay(_capture(tmp_path, [LINEAR_TRADE, v5]))
    assert not result.summary.ok
    assert "v5 shape" in " ".join(result.summary.errors)


def test_cli_exit_0_and_records_on_the_wire(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _capture(tmp_path, [_inverse_trade("t1", 50000, 100, "Buy"), INVERSE_SNAPSHOT])
    out = tmp_path / "out.jsonl"
    assert main([str(path), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert (rows[0]["type"], rows[0]["price"], rows[0]["amount"]) == (
        "trade",
        "50000",
        "0.002000000000",
    )
    assert (rows[1]["type"], rows[1]["bid"]) == ("ticker", "61165")
    summary = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert {(s["channel"], s["records"], s["not_understood"]) for s in summary} == {
        ("trades", 1, 0),
        ("ticker", 1, 0),
    }
