"""The calibration command: its fits, and the defaults that are its output for the shipped
captures."""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from eip.exchange_simulator import calibrate
from eip.exchange_simulator.core import market_model
from eip.exchange_simulator.core.instruments import load_instruments
from eip.exchange_simulator.core.market_model import MarketModel, usd_prices
from eip.exchange_simulator.settings import DEFAULT_MARKET
from eip.testing.recorded import recorded_capture

CAPTURES = ("binance-spot-2021-10.jsonl", "kraken-ws1-2021-04.jsonl")


@pytest.fixture(scope="module")
def fits() -> list[calibrate.Fit]:
    return [
        calibrate.fit_market(market)
        for name in CAPTURES
        for market in calibrate.read_markets(recorded_capture(name))
    ]


def test_the_default_market_is_the_calibration_of_the_recorded_captures(
    fits: list[calibrate.Fit],
) -> None:
    """config/default-market.toml's tables and core/market_model.py's constants are what the
    command prints for the shipped captures: rerunning it after a change of method (or of
    captures) shows in this test until the defaults are refreshed."""
    pooled = calibrate.pool(fits)
    instruments = load_instruments(DEFAULT_MARKET)
    prices = usd_prices(instruments)
    for inst in instruments:
        assert inst.market == calibrate.model_for(inst, prices[inst.base], fits, pooled), (
            inst.symbol
        )
    assert MarketModel() == calibrate.default_model(pooled)
    assert pooled.top_notional_usd == market_model.DEFAULT_TOP_NOTIONAL_USD
    assert Decimal(repr(round(pooled.trade_to_top, 3))) == market_model.DEFAULT_TRADE_TO_TOP


def test_every_captured_market_is_fitted(fits: list[calibrate.Fit]) -> None:
    names = {(f.venue, f.symbol) for f in fits}
    assert {("binance", s) for s in ("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR")} <= names
    assert len([f for f in fits if f.venue == "kraken"]) == 10
    xbt = next(f for f in fits if f.symbol == "XBT/CHF")
    assert (xbt.base, xbt.quote) == ("BTC", "CHF")  # Kraken's XBT is bitcoin
    assert xbt.volatility is not None
    assert 1e-5 < xbt.volatility < 1e-3  # a return per second, not a price
    assert xbt.trade_rate_source == "ticker (24 h)"


def _snapshot_body(gap: float, growth: float, top: float, size_growth: float) -> str:
    """A Binance depth snapshot built to the model (no dispersion), mid 100."""

    def side(best: float, out: int) -> list[list[str]]:
        rows = []
        for i in range(200):
            price = best * math.exp(out * gap * i**growth / 10_000) if i else best
            rows.append([f"{price:.10f}", f"{top * (1 + i) ** size_growth:.10f}"])
        return rows

    return json.dumps({"lastUpdateId": 1, "bids": side(99.9, -1), "asks": side(100.1, 1)})


def _write_capture(path: Path, mids: list[tuple[float, float]], body: str) -> None:
    """A Binance capture of one symbol: exchangeInfo, a snapshot, then one diff per mid
    (moving the best bid and ask so that the mid is the given one)."""
    info = {"symbols": [{"symbol": "TESTUSDT", "baseAsset": "TEST", "quoteAsset": "USDT"}]}
    lines: list[dict[str, object]] = [
        {"t": "header", "format": 2, "exchange": "BINANCE", "config": {}},
        {
            "t": "http",
            "conn": "h",
            "ts": 0.0,
            "url": "https://x/api/v3/exchangeInfo",
            "data": json.dumps(info),
        },
        {
            "t": "http",
            "conn": "h",
            "ts": 0.0,
            "url": "https://x/api/v3/depth?symbol=TESTUSDT",
            "data": body,
        },
    ]
    bid, ask = "99.9000000000", "100.1000000000"
    for update, (ts, mid) in enumerate(mids, 2):
        new_bid, new_ask = f"{mid - 0.1:.10f}", f"{mid + 0.1:.10f}"
        event = {
            "e": "depthUpdate",
            "s": "TESTUSDT",
            "U": update,
            "u": update,
            "b": [[bid, "0"], [new_bid, "1"]],
            "a": [[ask, "0"], [new_ask, "1"]],
        }
        bid, ask = new_bid, new_ask
        lines.append(
            {
                "t": "recv",
                "conn": "w",
                "ts": ts,
                "data": json.dumps({"stream": "testusdt@depth", "data": event}),
            }
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_the_fits_recover_a_market_built_to_the_model(tmp_path: Path) -> None:
    # The mid moves by exactly one bp of log price every second, alternately up and down.
    mids = [(0.0, 100.0)] + [(k + 0.5, 100.0 * math.exp(1e-4 * (k % 2))) for k in range(60)]
    path = tmp_path / "built.jsonl"
    _write_capture(path, mids, _snapshot_body(3.0, 1.5, 2.0, -0.5))
    (market,) = calibrate.read_markets(path)
    fit = calibrate.fit_market(market)
    assert fit.volatility == pytest.approx(1e-4, rel=0.02)
    assert fit.level_gap_bps == pytest.approx(3.0, rel=0.01)
    assert fit.level_gap_growth == pytest.approx(1.5, rel=0.01)
    assert fit.top_size == Decimal(2)
    assert fit.size_growth == pytest.approx(-0.5, rel=0.01)
    assert fit.size_dispersion == pytest.approx(0.0, abs=1e-6)
    assert fit.spread_bps == pytest.approx(20.0, rel=0.01)  # 0.2 wide at 100


def test_the_command_prints_fits_and_tables(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    paths = [str(recorded_capture(name)) for name in CAPTURES]
    assert calibrate.main([*paths, "--instruments", str(DEFAULT_MARKET)]) == 0
    out = capsys.readouterr().out
    assert "binance NKNUSDT" in out
    assert "kraken XBT/CHF" in out
    assert out.count("\n[instrument.market]\n") == 6  # one per instrument of the file
    assert "# ETHBTC" in out


def test_the_command_refuses_what_it_cannot_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    okx = tmp_path / "okx.jsonl"
    okx.write_text(json.dumps({"t": "header", "format": 2, "exchange": "OKX"}) + "\n")
    assert calibrate.main([str(okx)]) == 2
    assert "reads Binance and Kraken captures, not 'OKX'" in capsys.readouterr().err
    assert calibrate.main([str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err


def test_a_model_prints_as_the_table_it_came_from(tmp_path: Path) -> None:
    model = dataclasses.replace(
        MarketModel(), top_size=Decimal("0.5"), trade_size_median=Decimal("0.1")
    )
    lines = market_model.format_model(model)
    table = market_model.model_from_mapping(tomllib.loads("\n".join(lines)), "round trip")
    assert table == model
