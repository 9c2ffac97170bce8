"""The generated market's parameters: the ``[instrument.market]`` table, its defaults and the
sizes the loader derives, and the walk's laws."""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.instruments import InstrumentsFileError, load_instruments
from eip.exchange_simulator.core.market import GeneratedMarket
from eip.exchange_simulator.core.market_model import (
    DEFAULT_TOP_NOTIONAL_USD,
    DEFAULT_TRADE_TO_TOP,
    MarketModel,
    model_from_mapping,
)
from eip.exchange_simulator.settings import DEFAULT_MARKET

from .conftest import FakeClock

INSTRUMENT = """
[[instrument]]
symbol = "{symbol}"
base = "{base}"
quote = "{quote}"
tick_size = "0.01"
step_size = "0.0001"
reference_price = "{price}"
"""


def write(tmp_path: Path, *tables: str) -> Path:
    path = tmp_path / "market.toml"
    path.write_text("\n".join(tables))
    return path


def test_every_default_instrument_has_a_deep_calibrated_market() -> None:
    for inst in load_instruments(DEFAULT_MARKET):
        model = inst.market
        assert model is not None, inst.symbol
        assert model.levels >= 500
        assert model.top_size is not None
        assert model.top_size > 0
        assert model.trade_size_median is not None
        assert 0 < model.trade_size_median < model.top_size


def test_a_table_sets_what_it_names_and_keeps_the_defaults_for_the_rest(tmp_path: Path) -> None:
    table = INSTRUMENT.format(symbol="DOGEUSDT", base="DOGE", quote="USDT", price="0.1")
    path = write(
        tmp_path,
        table + "[instrument.market]\nvolatility = 0.001\nspread_ticks = 2\nhalf_life_s = inf\n",
    )
    (inst,) = load_instruments(path)
    assert inst.market is not None
    assert inst.market.volatility == 0.001
    assert (inst.market.spread_ticks, inst.market.spread_bps) == (2, None)
    assert inst.market.reversion == 0.0  # inf: a plain random walk
    assert inst.market.levels == MarketModel().levels
    # No sizes given: the calibrated notional at the instrument's dollar price.
    assert inst.market.top_size == DEFAULT_TOP_NOTIONAL_USD / Decimal("0.1")
    assert inst.market.trade_size_median == inst.market.top_size * DEFAULT_TRADE_TO_TOP


def test_a_crypto_quoted_instrument_is_sized_through_its_quote_s_dollar_price(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        INSTRUMENT.format(symbol="ETHBTC", base="ETH", quote="BTC", price="0.05"),
        INSTRUMENT.format(symbol="BTCUSDT", base="BTC", quote="USDT", price="60000"),
    )
    ethbtc, btcusdt = load_instruments(path)
    assert ethbtc.market is not None
    assert btcusdt.market is not None
    assert ethbtc.market.top_size == DEFAULT_TOP_NOTIONAL_USD / Decimal(3000)  # ETH = $3,000
    assert btcusdt.market.top_size == DEFAULT_TOP_NOTIONAL_USD / Decimal(60000)


def test_an_instrument_that_cannot_be_priced_in_dollars_must_set_its_sizes(
    tmp_path: Path,
) -> None:
    table = INSTRUMENT.format(symbol="ETHBTC", base="ETH", quote="BTC", price="1")
    with pytest.raises(
        InstrumentsFileError,
        match=r"'ETHBTC': .* set market\.top_size and market\.trade_size_median",
    ):
        load_instruments(write(tmp_path, table))
    sized = table + '[instrument.market]\ntop_size = "2"\ntrade_size_median = "0.5"\n'
    (inst,) = load_instruments(write(tmp_path, sized))
    market = GeneratedMarket(Exchange([inst], clock=FakeClock()), "ETHBTC", seed=1)
    assert (market.model.top_size, market.model.trade_size_median) == (Decimal(2), Decimal("0.5"))


def test_an_instrument_built_in_code_without_sizes_or_dollar_price_is_refused() -> None:
    (inst,) = [i for i in load_instruments(DEFAULT_MARKET) if i.symbol == "ETHBTC"]
    inst.market = None  # the defaults, and BTC has no dollar price among [ETHBTC]
    with pytest.raises(ValueError, match=r"set market\.top_size"):
        GeneratedMarket(Exchange([inst], clock=FakeClock()), "ETHBTC", seed=1)


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ({"volatility": -0.1}, "market.volatility must be at least 0"),
        ({"spread_bps": 0}, "market.spread_bps must be above 0"),
        ({"half_life_s": "1h"}, "market.half_life_s must be a number"),
        ({"volatility": math.inf}, "market.volatility must be at least 0"),
        ({"levels": 0}, "market.levels must be a whole number from 1 to 10000"),
        ({"levels": 2.5}, "market.levels must be a whole number"),
        ({"top_size": "-1"}, "market.top_size must be a positive amount"),
        ({"trade_size_median": "lots"}, "market.trade_size_median must be a positive amount"),
        ({"spread_bps": 10, "spread_ticks": 3}, "spread_bps or market.spread_ticks, not both"),
        ({"volatilty": 0.1}, r"unknown market keys \['volatilty'\]"),
    ],
)
def test_a_bad_table_is_refused_naming_the_instrument_and_the_key(
    table: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=f"instrument 'X': .*{complaint}"):
        model_from_mapping(table, "instrument 'X'")


def test_a_market_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    table = INSTRUMENT.format(symbol="SOLUSDT", base="SOL", quote="USDT", price="150")
    with pytest.raises(InstrumentsFileError, match="'SOLUSDT': market must be a table"):
        load_instruments(write(tmp_path, table + "market = 3\n"))


def test_the_walk_has_the_same_law_whatever_the_step() -> None:
    """Stepped exactly: n steps of dt and one step of n*dt spread the log price alike, and it
    settles at the stationary sigma."""
    model = MarketModel(volatility=0.001, half_life_s=60.0)

    def spread(dt: float, steps: int, runs: int, seed: int) -> float:
        rng = random.Random(seed)
        ends = []
        for _ in range(runs):
            x = 0.0
            for _ in range(steps):
                x = model.walk(x, dt, rng)
            ends.append(x)
        return math.sqrt(sum(e * e for e in ends) / runs)

    fine, coarse = spread(0.1, 100, 4000, 1), spread(10.0, 1, 4000, 2)
    expected = model.volatility * math.sqrt(
        (1 - math.exp(-2 * model.reversion * 10)) / (2 * model.reversion)
    )
    assert fine == pytest.approx(expected, rel=0.05)
    assert coarse == pytest.approx(expected, rel=0.05)
    settled = spread(60.0, 20, 4000, 3)  # twenty half-lives
    assert settled == pytest.approx(model.stationary_sigma, rel=0.05)


def test_the_simulator_will_not_start_on_a_bad_market_table(tmp_path: Path) -> None:
    table = INSTRUMENT.format(symbol="SOLUSDT", base="SOL", quote="USDT", price="150")
    path = write(tmp_path, table + "[instrument.market]\nspread_bps = -3\n")
    env = {**os.environ, "SIMULATOR_INSTRUMENTS_FILE": str(path), "SIMULATOR_HTTP_PORT": "0"}

    done = subprocess.run(
        [sys.executable, "-m", "eip.exchange_simulator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr == (
        f"SIMULATOR_INSTRUMENTS_FILE {path}: instrument 'SOLUSDT': market.spread_bps must be"
        " above 0, not -3\n"
    )
