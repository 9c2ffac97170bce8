"""The real captures through the replay: the live parse code must read every trade and ticker
frame, exactly. Every capture of ``data/recorded`` and of the folders ``EIP_RECORDED_DIR``
names is checked too (``eip.testing.recorded``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eip.exchanges.ccxt.market_data import new_client
from eip.exchanges.ccxt.replay import StandInClient
from eip.exchanges.contract.market_data import Ticker, Trade
from eip.exchanges.machinery.capture import frame_payload, iter_entries, payload_text
from eip.exchanges.machinery.replay import replay
from eip.testing.recorded import IN_REPO, capture_name, recorded_capture, recorded_captures

BINANCE = "binance-spot-2021-10.jsonl"
KRAKEN = "kraken-ws1-2021-04.jsonl"


def recv_frames(path: Path) -> list[tuple[float, Any]]:
    return [
        (rec["ts"], json.loads(payload_text(frame_payload(rec))))
        for _, rec in iter_entries(path)
        if rec["t"] == "recv"
    ]


def test_binance_trades_and_tickers_carry_the_frames_exact_decimals() -> None:
    path = recorded_capture(BINANCE)
    result = replay(path)
    assert result.summary.ok, result.summary.errors
    trades = [r for r in result.records if isinstance(r, Trade)]
    tickers = [r for r in result.records if isinstance(r, Ticker)]
    agg = [(ts, f["data"]) for ts, f in recv_frames(path) if f["stream"].endswith("@aggTrade")]
    books = [(ts, f["data"]) for ts, f in recv_frames(path) if f["stream"].endswith("@bookTicker")]
    assert agg
    assert books
    assert [(t.trade_id, t.price, t.amount) for t in trades] == [
        (str(d["a"]), Decimal(d["p"]), Decimal(d["q"])) for _, d in agg
    ]
    assert [t.received_time for t in trades] == [datetime.fromtimestamp(ts, UTC) for ts, _ in agg]
    assert [(t.bid, t.bid_size, t.ask, t.ask_size) for t in tickers] == [
        (Decimal(d["b"]), Decimal(d["B"]), Decimal(d["a"]), Decimal(d["A"])) for _, d in books
    ]
    assert {t.symbol for t in result.records} <= {"NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR"}


def test_kraken_v1_trades_and_tickers_are_read_exactly() -> None:
    path = recorded_capture(KRAKEN)
    result = replay(path)
    assert result.summary.ok, result.summary.errors
    v1 = [f for _, f in recv_frames(path) if isinstance(f, list)]
    rows = [(f[3], row) for f in v1 if f[2] == "trade" for row in f[1]]
    tickers = [(f[3], f[1]) for f in v1 if f[2] == "ticker"]
    assert rows
    assert tickers
    trades = [r for r in result.records if isinstance(r, Trade)]
    assert [(t.price, t.amount, t.taker_side) for t in trades] == [
        (Decimal(r[0]), Decimal(r[1]), "buy" if r[3] == "b" else "sell") for _, r in rows
    ]
    got = [r for r in result.records if isinstance(r, Ticker)]
    assert [(t.bid, t.ask, t.last) for t in got] == [
        (Decimal(t["b"][0]), Decimal(t["a"][0]), Decimal(t["c"][0])) for _, t in tickers
    ]
    # v1 names Bitcoin XBT: the symbols come out normalized
    assert "BTC/CHF" in {t.symbol for t in got}
    assert all("XBT" not in r.symbol for r in result.records)


def test_ccxt_kraken_no_longer_reads_v1_frames() -> None:
    """Why v1 has its own reader: ccxt 4.5.90's kraken handler speaks v2 only."""
    path = recorded_capture(KRAKEN)
    trade_frame = next(f for _, f in recv_frames(path) if isinstance(f, list) and f[2] == "trade")
    client = new_client("kraken")
    conn = StandInClient("replay")
    client.handle_message(conn, trade_frame)
    assert conn.resolved == []


def test_the_shipped_captures_are_among_those_replayed() -> None:
    names = {capture_name(p) for p in recorded_captures() if p.parent == IN_REPO}
    assert {BINANCE, KRAKEN} <= names


@pytest.mark.parametrize("path", recorded_captures(), ids=capture_name)
def test_every_recorded_capture_replays_cleanly(path: Path) -> None:
    result = replay(path)
    assert result.summary.ok, result.summary.errors
    assert result.records, f"{path.name}: no trades or tickers replayed"
    for record in result.records:
        assert record.received_time.tzinfo is UTC
