"""Per-venue dispatch on small captures in each venue's documented shapes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eip.exchanges.ccxt.replay import RecordedRest
from eip.exchanges.contract.market_data import Ticker, Trade
from eip.exchanges.machinery.replay import CaptureError, replay
from eip.exchanges.machinery.replay.__main__ import main

from .synthetic import COINBASE_PRO, VENUES, write_capture

# header -> (exchange id, symbol, first trade (price, amount), first ticker (bid, ask))
EXPECTED: dict[str, tuple[str, str, tuple[str, str], tuple[str | None, str | None]]] = {
    "KUCOIN": ("kucoin", "BTC/USDT", ("42000.1", "0.01022222"), ("42000.1", "42000.2")),
    "OKX": ("okx", "BTC/USDT", ("42219.9", "0.12060306"), ("42219.9", "42220")),
    "BYBIT": ("bybit", "BTC/USDT", ("16578.50", "0.001"), (None, None)),
    "GATEIO": ("gateio", "BTC/USDT", ("19106.55", "16.47"), ("19106.55", "19108.71")),
    "HUOBI": ("htx", "BTC/USDT", ("52648.62", "0.006754"), ("52732.88", "52732.89")),
    "BITFINEX": ("bitfinex", "BTC/USD", ("7245", "0.1"), ("7616.5", "7617.5")),
    "COINBASE": ("coinbase", "BTC/USD", ("21932.98", "0.3"), ("21932.98", "21933.0")),
    "BITMEX": ("bitmex", "BTC/USD:BTC", ("97000.5", "0.00103092"), ("97000", "97000.5")),
}


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


@pytest.mark.parametrize("venue", sorted(EXPECTED))
def test_each_venue_dispatches_to_its_parser(venue: str, tmp_path: Path) -> None:
    config, frames = VENUES[venue]
    result = replay(write_capture(tmp_path / "c.jsonl", venue, config, frames))
    assert result.summary.ok, result.summary.errors
    exchange, symbol, (price, amount), (bid, ask) = EXPECTED[venue]
    trades = [r for r in result.records if isinstance(r, Trade)]
    tickers = [r for r in result.records if isinstance(r, Ticker)]
    assert trades
    assert tickers
    assert {r.exchange for r in result.records} == {exchange}
    assert {r.symbol for r in result.records} == {symbol}
    assert (trades[0].price, trades[0].amount) == (Decimal(price), Decimal(amount))
    assert (tickers[0].bid, tickers[0].ask) == (_dec(bid), _dec(ask))
    rows = result.summary.rows()
    assert {(r["channel"], r["not_understood"]) for r in rows} == {("trades", 0), ("ticker", 0)}


def test_bitfinex_trade_updates_are_not_counted_twice(tmp_path: Path) -> None:
    config, frames = VENUES["BITFINEX"]
    result = replay(write_capture(tmp_path / "c.jsonl", "BITFINEX", config, frames))
    ids = [r.trade_id for r in result.records if isinstance(r, Trade)]
    assert sorted(ids) == ["401597393", "401597394", "401597395"]


def test_coinbase_exchange_feed_goes_through_ccxt_coinbaseexchange(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "c.jsonl", "COINBASE", {"trades": ["BTC-USD"]}, COINBASE_PRO)
    result = replay(path)
    assert result.summary.ok, result.summary.errors
    trades = [r for r in result.records if isinstance(r, Trade)]
    assert len(trades) == 1  # the last_match before it is not a live trade
    trade = trades[0]
    assert (trade.trade_id, trade.price, trade.amount) == (
        "10",
        Decimal("400.23"),
        Decimal("5.23512"),
    )
    # Coinbase's "side" is the maker's: ccxt reports the taker
    assert trade.taker_side == "buy"


def test_cli_writes_records_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, frames = VENUES["OKX"]
    path = write_capture(tmp_path / "c.jsonl", "OKEX", config, frames)
    out = tmp_path / "out.jsonl"
    assert main([str(path), "--out", str(out), "--channels", "trades"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [
        {
            "type": "trade",
            "exchange": "okx",
            "symbol": "BTC/USDT",
            "trade_id": "130639474",
            "price": "42219.9",
            "amount": "0.12060306",
            "taker_side": "buy",
            "exchange_time": "2021-08-27T07:21:37.897000+00:00",
            "received_time": "2023-11-14T22:13:20.100000+00:00",
        }
    ]
    summary = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert summary == [
        {
            "exchange": "OKEX",
            "symbol": "BTC/USDT",
            "channel": "trades",
            "frames": 1,
            "records": 1,
            "not_understood": 0,
        }
    ]


def _kucoin_trade(symbol: str, price: str) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(json.dumps(VENUES["KUCOIN"][1][1]))
    frame["topic"] = f"/market/match:{symbol}"
    frame["data"] |= {"symbol": symbol, "price": price}
    return frame


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (_kucoin_trade("BTC-USDT", "0"), "non-positive price"),
        (_kucoin_trade("FOOBAR", "1"), "not a BASE/QUOTE symbol"),
        ({"type": "message", "topic": "/market/match:BTC-USDT", "data": {}}, "trades BTC-USDT"),
    ],
)
def test_bad_trade_frames_fail_the_run(
    frame: dict[str, Any], why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {"trades": ["BTC-USDT"]}
    path = write_capture(tmp_path / "c.jsonl", "KUCOIN", config, [frame])
    result = replay(path)
    assert not result.summary.ok
    assert why in " ".join(result.summary.errors)
    assert main([str(path), "--out", str(tmp_path / "o.jsonl")]) == 1
    assert "not understood" in capsys.readouterr().err


def test_unknown_exchange_and_bad_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no replay for exchange 'NOPE'"):
        replay(write_capture(tmp_path / "a.jsonl", "NOPE", {}, []))
    bad = tmp_path / "b.jsonl"
    bad.write_text(json.dumps({"t": "recv", "conn": "x", "ts": 1, "data": "{}"}) + "\n")
    with pytest.raises(CaptureError, match="format-2 header"):
        replay(bad)
    assert main([str(bad)]) == 2


def test_bitfinex_sequence_numbers_a_recording_client_asked_for_are_dropped(
    tmp_path: Path,
) -> None:
    frames: list[Any] = [
        {"event": "conf", "status": "OK", "flags": 65536},
        {"event": "subscribed", "channel": "trades", "chanId": 7, "symbol": "tTESTBTC:TESTUSD"},
        [7, [[670155031, 1618677442819, -0.00023057, 60410]], 1],
        [7, "te", [670155032, 1618677442900, 0.5, 60411], 2],
        [7, "hb", 3],
    ]
    config = {"trades": ["TESTBTC-TESTUSD"]}
    result = replay(write_capture(tmp_path / "c.jsonl", "BITFINEX", config, frames))
    assert result.summary.ok, result.summary.errors
    trades = [r for r in result.records if isinstance(r, Trade)]
    assert len(trades) == len(result.records)
    got = [(r.symbol, r.trade_id, r.price, r.amount, r.taker_side) for r in trades]
    assert got == [
        ("TESTBTC/TESTUSD", "670155031", Decimal("60410"), Decimal("0.00023057"), "sell"),
        ("TESTBTC/TESTUSD", "670155032", Decimal("60411"), Decimal("0.5"), "buy"),
    ]


def test_okx_derivatives_and_tiny_prices(tmp_path: Path) -> None:
    """Header symbols ``XMR-USDT-PERP`` / ``TRX-USDT-210924`` give OKX swap and future markets;
    prices below 1e-6 stay fixed-point on the wire."""

    def trade(inst: str, px: str) -> dict[str, Any]:
        row = {"instId": inst, "tradeId": "1", "px": px, "sz": "8", "side": "buy", "ts": "1"}
        return {"arg": {"channel": "trades", "instId": inst}, "data": [row]}

    frames = [
        trade("XMR-USDT-SWAP", "196.11"),
        trade("TRX-USDT-210924", "0.0545"),
        trade("FUN-BTC", "0.000000454"),
    ]
    config = {"trades": ["XMR-USDT-PERP", "TRX-USDT-210924", "FUN-BTC"]}
    path = write_capture(tmp_path / "c.jsonl", "OKEX", config, frames)
    out = tmp_path / "out.jsonl"
    assert main([str(path), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["symbol"], r["price"]) for r in rows] == [
        ("XMR/USDT:USDT", "196.11"),
        ("TRX/USDT:USDT-210924", "0.0545"),
        ("FUN/BTC", "0.000000454"),
    ]


async def test_recorded_rest_bodies_are_matched_by_path_and_query() -> None:
    recorded = RecordedRest(
        {
            "https://x.invalid/api/v5/public/instruments?instType=SPOT": '{"spot": 1}',
            "https://x.invalid/api/v5/public/instruments?instType=SWAP": '{"swap": 1}',
            "https://x.invalid/api/v1/symbols": '{"symbols": 1}',
        }
    )
    fetch = recorded.fetch
    assert await fetch("https://y.invalid/api/v5/public/instruments?instType=SWAP") == {"swap": 1}
    assert await fetch("https://y.invalid/api/v5/public/instruments?instType=SPOT") == {"spot": 1}
    assert await fetch("https://y.invalid/api/v1/symbols?x=1") == {"symbols": 1}
    with pytest.raises(LookupError, match="instType=OPTION"):
        await fetch("https://y.invalid/api/v5/public/instruments?instType=OPTION")


def test_htx_binary_gzip_frames_replay_like_text_ones(tmp_path: Path) -> None:
    """HTX sends gzip binary frames; a capture keeps them as ``b64`` and the replay inflates
    them as ccxt's client does live."""
    config, frames = VENUES["HUOBI"]
    text = replay(write_capture(tmp_path / "t.jsonl", "HTX", config, frames))
    binary = replay(write_capture(tmp_path / "b.jsonl", "HTX", config, frames, gzipped=True))
    assert '"b64"' in (tmp_path / "b.jsonl").read_text()
    assert binary.summary.ok, binary.summary.errors
    assert binary.records == text.records
    assert {(type(r).__name__, r.symbol) for r in binary.records} == {
        ("Trade", "BTC/USDT"),
        ("Ticker", "BTC/USDT"),
    }


def test_bybit_perp_header_names_give_linear_and_inverse_swaps(tmp_path: Path) -> None:
    """No instrument list recorded: ``BTC-USDT-PERP`` in the header is Bybit's linear
    ``BTCUSDT`` swap, so its trades are ``BTC/USDT:USDT``, not the spot pair."""
    _, frames = VENUES["BYBIT"]
    config = {"trades": ["BTC-USDT-PERP", "BTC-USD-PERP"], "ticker": ["BTC-USDT-PERP"]}
    addr = "wss://stream.bybit.com/v5/public/linear"
    result = replay(write_capture(tmp_path / "c.jsonl", "BYBIT", config, frames, addr))
    assert result.summary.ok, result.summary.errors
    trades = [r for r in result.records if isinstance(r, Trade)]
    assert [(t.symbol, t.price) for t in trades] == [("BTC/USDT:USDT", Decimal("16578.50"))]


def test_a_capture_without_trade_or_ticker_frames_is_no_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {"trades": ["BTC-USDT"]}
    path = write_capture(tmp_path / "c.jsonl", "KUCOIN", config, [{"id": "1", "type": "welcome"}])
    assert main([str(path), "--out", str(tmp_path / "o.jsonl")]) == 0
    assert "no data: the capture holds no trades or ticker frame" in capsys.readouterr().err
    assert main([str(path), "--out", str(tmp_path / "o.jsonl"), "--strict"]) == 1
