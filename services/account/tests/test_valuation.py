"""The price graph values an asset through the best fresh route, says which, and never
values an asset it has no price for."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from eip.account.valuation import PRECISION, PriceGraph, Rate, Unvalued, value_amounts

NOW = 1_800_000_000.0


def graph(**kwargs: object) -> PriceGraph:
    return PriceGraph(clock=lambda: NOW, max_age_s=60, **kwargs)  # type: ignore[arg-type]


def test_a_direct_pair_is_the_mid_of_bid_and_ask() -> None:
    g = graph()
    g.update("binance", "BTC/USD", bid="99", ask="101", bid_size="2", ask_size="3", received=NOW)
    rate = g.rate("BTC", "USD")
    assert isinstance(rate, Rate)
    assert (rate.rate, rate.kind) == (Decimal(100), "direct")
    assert rate.describe()["legs"] == [
        {"exchange": "binance", "symbol": "BTC/USD", "direction": "direct", "price": "100"}
    ]


def test_an_inverse_pair_divides() -> None:
    g = graph()
    g.update("kraken", "USD/JPY", last="150", received=NOW - 5)
    rate = g.rate("JPY", "USD")
    assert isinstance(rate, Rate)
    assert rate.kind == "inverse"
    with localcontext() as ctx:
        ctx.prec = PRECISION
        assert rate.rate == Decimal(1) / Decimal(150)
    assert rate.age_s == pytest.approx(5)


def test_a_bridge_multiplies_both_legs() -> None:
    g = graph()
    g.update("binance", "SOL/USDT", bid="20", ask="20", received=NOW)
    g.update("kraken", "USDT/USD", bid="0.998", ask="1.000", received=NOW - 10)
    rate = g.rate("SOL", "USD")
    assert isinstance(rate, Rate)
    assert rate.kind == "bridge"
    assert rate.rate == Decimal(20) * Decimal("0.999")
    assert rate.age_s == pytest.approx(10)  # the oldest leg
    assert [leg.pair.symbol for leg in rate.legs] == ["SOL/USDT", "USDT/USD"]


def test_one_leg_beats_a_deeper_bridge() -> None:
    g = graph()
    g.update("a", "ETH/USD", bid="10", ask="10", bid_size="0.1", ask_size="0.1", received=NOW)
    g.update("b", "ETH/BTC", bid="1", ask="1", bid_size="1000", ask_size="1000", received=NOW)
    g.update("b", "BTC/USD", bid="10", ask="10", bid_size="1000", ask_size="1000", received=NOW)
    rate = g.rate("ETH", "USD")
    assert isinstance(rate, Rate)
    assert rate.kind == "direct"


def test_the_deepest_of_several_venues_wins_and_freshness_breaks_ties() -> None:
    g = graph()
    g.update("thin", "BTC/USD", bid="100", ask="100", bid_size="1", ask_size="1", received=NOW)
    g.update("deep", "BTC/USD", bid="101", ask="101", bid_size="9", ask_size="5", received=NOW - 30)
    rate = g.rate("BTC", "USD")
    assert isinstance(rate, Rate)
    assert rate.legs[0].pair.exchange == "deep"
    g.update("deep", "BTC/USD", bid="100", ask="100", bid_size="5", ask_size="5", received=NOW - 30)
    g.update("thin", "BTC/USD", bid="100", ask="100", bid_size="5", ask_size="5", received=NOW)
    rate = g.rate("BTC", "USD")
    assert isinstance(rate, Rate)
    assert rate.legs[0].pair.exchange == "thin"  # as deep now, and fresher


def test_a_stale_price_is_not_used_and_the_asset_says_so() -> None:
    g = graph()
    g.update("binance", "BTC/USD", last="100", received=NOW - 61)
    assert g.rate("BTC", "USD") == Unvalued("BTC", "USD", "stale_price")
    assert g.rate("DOGE", "USD") == Unvalued("DOGE", "USD", "no_price")


def test_a_stablecoin_is_valued_at_its_market_not_at_one() -> None:
    g = graph()
    g.update("binance", "BTC/USDT", last="50000", received=NOW)
    g.update("kraken", "BTC/USD", last="49000", received=NOW)
    rate = g.rate("USDT", "USD")
    assert isinstance(rate, Rate)
    assert rate.kind == "bridge"
    assert rate.rate == Decimal("0.98")


def test_par_for_a_stablecoin_only_when_asked_and_only_without_a_market() -> None:
    g = graph()
    assert isinstance(g.rate("USDC", "USD"), Unvalued)
    par = g.rate("USDC", "USD", stable_par=True)
    assert isinstance(par, Rate)
    assert (par.kind, par.rate) == ("par", Decimal(1))
    assert isinstance(g.rate("DOGE", "USD", stable_par=True), Unvalued)
    g.update("kraken", "USDC/USD", last="0.97", received=NOW)
    market = g.rate("USDC", "USD", stable_par=True)
    assert isinstance(market, Rate)
    assert market.rate == Decimal("0.97")


def test_any_asset_can_be_the_quote() -> None:
    g = graph()
    g.update("binance", "ETH/BTC", last="0.05", received=NOW)
    rate = g.rate("BTC", "ETH")
    assert isinstance(rate, Rate)
    assert rate.rate == Decimal(20)
    assert g.rate("ETH", "ETH") == Rate("ETH", "ETH", Decimal(1), "identity", (), 0.0, None)


def test_an_unvalued_asset_is_left_out_of_the_total_not_counted_as_zero() -> None:
    g = graph()
    g.update("binance", "BTC/USD", last="100", received=NOW)
    amounts = {"BTC": Decimal(2), "XYZ": Decimal(1000)}
    rows, total = value_amounts(amounts, g.rates(amounts, "USD"))
    assert total == Decimal(200)
    assert [(r.asset, r.value) for r in rows] == [("BTC", Decimal(200)), ("XYZ", None)]


@pytest.mark.parametrize("bad", ["", "abc", "NaN", "-1", "0", "Infinity"])
def test_a_ticker_without_a_usable_price_is_ignored(bad: str) -> None:
    g = graph()
    assert not g.update("binance", "BTC/USD", bid=bad, ask=bad, last=bad, received=NOW)
    assert g.pairs() == 0
