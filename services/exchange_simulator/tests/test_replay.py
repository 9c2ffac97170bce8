"""Replaying the recorded real Binance capture, and the generator's determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from eip.exchange_simulator.binance.replay import load_capture
from eip.exchange_simulator.core.engine import TradeEvent
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.instruments import load_instruments
from eip.exchange_simulator.core.market import (
    GeneratedMarket,
    LiquidityProvider,
    PrintTrade,
    replay,
)
from eip.exchange_simulator.settings import DEFAULT_MARKET, SimulatorSettings
from eip.exchange_simulator.simulator import ReplayFileError, Simulator
from eip.exchanges.machinery.capture import iter_entries
from eip.testing.captures import Corrupted, corrupt_captures
from eip.testing.recorded import recorded_capture

from .conftest import FakeClock


def capture_path() -> Path:
    return recorded_capture("binance-spot-2021-10.jsonl")


def reference_books(path: Path) -> dict[str, dict[str, dict[Decimal, Decimal]]]:
    """The books the capture describes, rebuilt independently of the simulator."""
    books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
    last_ids: dict[str, int] = {}
    for _, frame in iter_entries(path):
        if frame["t"] == "http" and "/depth" in frame["url"]:
            symbol = frame["url"].split("symbol=")[1].split("&")[0]
            body = json.loads(frame["data"])
            last_ids[symbol] = body["lastUpdateId"]
            books[symbol] = {
                "bids": {Decimal(p): Decimal(q) for p, q in body["bids"]},
                "asks": {Decimal(p): Decimal(q) for p, q in body["asks"]},
            }
        elif frame["t"] == "recv":
            data = json.loads(frame["data"]).get("data", {})
            symbol = data.get("s")
            if data.get("e") != "depthUpdate" or symbol not in last_ids:
                continue
            if data["u"] <= last_ids[symbol]:
                continue
            for side, key in (("bids", "b"), ("asks", "a")):
                for p, q in data[key]:
                    if Decimal(q) == 0:
                        books[symbol][side].pop(Decimal(p), None)
                    else:
                        books[symbol][side][Decimal(p)] = Decimal(q)
    return books


async def test_replayed_capture_rebuilds_the_recorded_books() -> None:
    path = capture_path()
    capture = load_capture(path)
    assert {i.symbol for i in capture.instruments} == {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"}
    exchange = Exchange(capture.instruments, clock=FakeClock())
    trades: list[TradeEvent] = []
    exchange.listeners.trade.append(trades.append)
    applied = await replay(exchange, capture.actions, speed=0)
    assert applied > 1000
    expected = reference_books(path)
    for symbol, book in expected.items():
        _, bids, asks = exchange.depth(symbol, 10_000)
        assert dict(bids) == book["bids"], symbol
        assert dict(asks) == book["asks"], symbol
    assert len(trades) == 2  # the capture holds two aggTrade events, both printed to the tape
    assert {t.symbol for t in trades} <= set(expected)


async def test_replay_is_deterministic() -> None:
    capture = load_capture(capture_path())
    snapshots = []
    for _ in range(2):
        exchange = Exchange(capture.instruments, clock=FakeClock())
        await replay(exchange, capture.actions, speed=0)
        snapshots.append({s: exchange.depth(s, 50) for s in exchange.instruments})
    assert snapshots[0] == snapshots[1]


Depth = tuple[int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]


def generated_run(
    seed: int,
    steps: int,
) -> tuple[tuple[Depth, ...], tuple[tuple[str, Decimal, Decimal], ...]]:
    exchange = Exchange(load_instruments(DEFAULT_MARKET), clock=FakeClock())
    provider = LiquidityProvider(exchange)
    markets = [
        GeneratedMarket(exchange, s, seed, provider=provider) for s in sorted(exchange.instruments)
    ]
    trades: list[tuple[str, Decimal, Decimal]] = []
    exchange.listeners.trade.append(lambda t: trades.append((t.symbol, t.price, t.qty)))
    for _ in range(steps):
        for market in markets:
            market.step()
    # The market's own churn is not remembered: a long-running simulator stays bounded.
    assert exchange.orders == {}
    return tuple(exchange.depth(s, 20) for s in sorted(exchange.instruments)), tuple(trades)


def test_generated_market_is_deterministic_per_seed() -> None:
    first, second, other = generated_run(7, 300), generated_run(7, 300), generated_run(8, 300)
    assert first == second
    assert first != other
    books, trades = first
    assert len(trades) > 60  # 30 s of six markets printing 0.68 trades a second each
    for _update_id, bids, asks in books:
        assert bids
        assert asks
        assert bids[0][0] < asks[0][0]


# -- a capture the replay cannot use stops the simulator at start-up, saying why ---------------

FILTERS = [
    {"filterType": "PRICE_FILTER", "tickSize": "0.0001", "minPrice": "0.0001", "maxPrice": "1000"},
    {"filterType": "LOT_SIZE", "stepSize": "0.1", "minQty": "0.1", "maxQty": "90000"},
]
INFO = {
    "symbols": [{"symbol": "NKNUSDT", "baseAsset": "NKN", "quoteAsset": "USDT", "filters": FILTERS}]
}
DEPTH = {"lastUpdateId": 10, "bids": [["0.3000", "100.0"]], "asks": [["0.3010", "50.0"]]}
STREAM = "wss://stream.binance.com:9443/stream?streams=nknusdt@depth@100ms"
SMALL: list[dict[str, Any]] = [
    {"t": "header", "format": 2, "exchange": "BINANCE", "config": {"l2_book": ["NKN-USDT"]},
     "recorded": 1.7e9},
    {"t": "http", "conn": "B.http.0", "ts": 1.7e9, "url": "https://api.binance.com/api/v3/exchangeInfo",
     "data": json.dumps(INFO)},
    {"t": "http", "conn": "B.http.0", "ts": 1.7e9 + 0.1,
     "url": "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000",
     "data": json.dumps(DEPTH)},
    {"t": "connect", "conn": "B.ws.1", "ts": 1.7e9 + 0.2, "addr": STREAM},
    {"t": "recv", "conn": "B.ws.1", "ts": 1.7e9 + 0.3, "data": json.dumps(
        {"stream": "nknusdt@depth@100ms", "data": {"e": "depthUpdate", "s": "NKNUSDT", "U": 11,
         "u": 12, "b": [["0.3001", "5.0"]], "a": []}})},
    {"t": "recv", "conn": "B.ws.1", "ts": 1.7e9 + 0.4, "data": json.dumps(
        {"stream": "nknusdt@aggTrade", "data": {"e": "aggTrade", "s": "NKNUSDT", "a": 1,
         "p": "0.3005", "q": "2.0", "m": False}})},
]  # fmt: skip


def test_a_small_capture_loads(tmp_path: Path) -> None:
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in SMALL))
    capture = load_capture(path)
    assert [i.symbol for i in capture.instruments] == ["NKNUSDT"]
    assert sum(isinstance(a, PrintTrade) for a in capture.actions) == 1


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupt_captures(SMALL))
def test_a_corrupt_capture_is_refused_with_its_entry_never_a_traceback(
    corrupted: Corrupted,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = corrupted.write(Path(folder))
        settings_ = SimulatorSettings(market="replay", replay_file=path)
        refusal = None
        try:
            Simulator(settings_)
        except ReplayFileError as exc:
            refusal = str(exc)
    if refusal is None:
        assert not corrupted.refused, corrupted.how
    else:
        assert refusal.startswith(f"SIMULATOR_REPLAY_FILE {path}: entry "), corrupted.how


def test_the_simulator_will_not_start_on_an_unreadable_capture(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(SMALL[0]) + "\n" + json.dumps({**SMALL[4], "b64": "@@"}) + "\n")
    env = {**os.environ, "SIMULATOR_MARKET": "replay", "SIMULATOR_REPLAY_FILE": str(path),
           "SIMULATOR_HTTP_PORT": "0"}  # fmt: skip

    done = subprocess.run(
        [sys.executable, "-m", "eip.exchange_simulator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr == f"SIMULATOR_REPLAY_FILE {path}: entry 2 (recv): both data and b64\n"
