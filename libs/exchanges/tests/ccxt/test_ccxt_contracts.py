"""Contract markets through ccxt: ccxt counts their trade amounts in contracts, the platform's
``Trade.amount`` is base quantity (a linear contract holds ``contractSize`` base, an inverse one
is worth ``contractSize`` quote)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from eip.exchanges.ccxt.market_data import CcxtMarketDataAdapter, new_client
from eip.exchanges.ccxt.parse import base_amount

from .payload_harness import Router, market

# ccxt's unified markets of OKX's BTC perpetuals (ctVal 0.01 BTC linear, 100 USD inverse)
LINEAR = {
    **market("okx"),
    "id": "BTC-USDT-SWAP",
    "symbol": "BTC/USDT:USDT",
    "settle": "USDT",
    "settleId": "USDT",
    "type": "swap",
    "spot": False,
    "swap": True,
    "contract": True,
    "linear": True,
    "inverse": False,
    "contractSize": "0.01",
}
INVERSE = {
    **LINEAR,
    "id": "BTC-USD-SWAP",
    "symbol": "BTC/USD:BTC",
    "quote": "USD",
    "quoteId": "USD",
    "settle": "BTC",
    "settleId": "BTC",
    "linear": False,
    "inverse": True,
    "contractSize": "100",
}


def okx_adapter(body: str, markets: list[dict[str, Any]]) -> CcxtMarketDataAdapter:
    client = new_client("okx")
    client.fetch = Router("okx", {"/api/v5/market/trades": body}).fetch
    adapter = CcxtMarketDataAdapter("okx", client=client)
    adapter.use_markets(markets)
    return adapter


async def test_linear_swap_trades_are_base_quantity() -> None:
    adapter = okx_adapter("swap_trades_linear.json", [LINEAR, INVERSE])
    (trade,) = await adapter.fetch_trades("BTC/USDT:USDT")
    assert trade.symbol == "BTC/USDT:USDT"
    assert trade.price == Decimal("98950.1")
    assert trade.amount == Decimal("0.12")  # 12 contracts of 0.01 BTC
    await adapter.close()


async def test_inverse_swap_trades_are_base_quantity() -> None:
    adapter = okx_adapter("swap_trades_inverse.json", [LINEAR, INVERSE])
    (trade,) = await adapter.fetch_trades("BTC/USD:BTC")
    assert trade.symbol == "BTC/USD:BTC"
    assert trade.amount == Decimal("0.003031818940")  # 3 x 100 USD / 98950.5, 12 places
    await adapter.close()


def test_spot_amounts_are_left_alone() -> None:
    assert base_amount(Decimal("0.5"), Decimal("100"), None) == Decimal("0.5")
    assert base_amount(Decimal("0.5"), Decimal("100"), market("okx")) == Decimal("0.5")


def test_a_contract_market_without_a_size_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="no contractSize"):
        base_amount(Decimal("1"), Decimal("100"), {**LINEAR, "contractSize": None})
    with pytest.raises(ValueError, match="quanto"):
        base_amount(Decimal("1"), Decimal("100"), {**LINEAR, "quanto": True})
    with pytest.raises(ValueError, match="non-positive price"):
        base_amount(Decimal("1"), Decimal("0"), INVERSE)


async def test_inverse_swap_ticker_sizes_are_base_quantity() -> None:
    client = new_client("okx")
    client.fetch = Router("okx", {"/api/v5/market/ticker": "swap_ticker_inverse.json"}).fetch
    adapter = CcxtMarketDataAdapter("okx", client=client)
    adapter.use_markets([LINEAR, INVERSE])
    ticker = await adapter.fetch_ticker("BTC/USD:BTC")
    assert (ticker.bid, ticker.ask) == (Decimal("98950"), Decimal("98950.5"))
    assert ticker.bid_size == Decimal("0.025265285498")  # 25 x 100 USD / 98950
    assert ticker.ask_size == Decimal("0.040424252530")  # 40 x 100 USD / 98950.5
    await adapter.close()
