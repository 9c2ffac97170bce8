from __future__ import annotations

import ccxt
import pytest

from eip.exchanges.binance.market_data import BinanceMarketDataAdapter
from eip.exchanges.ccxt.errors import map_ccxt_error
from eip.exchanges.ccxt.market_data import CcxtMarketDataAdapter
from eip.exchanges.ccxt.parse import normalize_symbol, to_decimal
from eip.exchanges.contract.errors import (
    BadRequest,
    ExchangeError,
    RateLimited,
    TransientExchangeError,
    UnknownExchange,
    UnknownSymbol,
)
from eip.exchanges.registry import ROADMAP_EXCHANGES, create_market_data_adapter


async def test_native_binance_by_default_ccxt_otherwise() -> None:
    native = create_market_data_adapter("binance", base_url="http://127.0.0.1:1")
    assert isinstance(native, BinanceMarketDataAdapter)
    assert native.stream.ws_base_url == "ws://127.0.0.1:1"
    generic = create_market_data_adapter("binance", native=False)
    assert isinstance(generic, CcxtMarketDataAdapter)
    await native.close()
    await generic.close()


async def test_every_roadmap_exchange_but_bitmex_gets_a_ccxt_adapter() -> None:
    for exchange in ROADMAP_EXCHANGES:
        if exchange in ("binance", "bitmex"):
            continue
        adapter = create_market_data_adapter(exchange, base_url="http://127.0.0.1:1")
        assert isinstance(adapter, CcxtMarketDataAdapter)
        assert adapter.exchange == exchange
        assert adapter.client.number is str
        api = str(adapter.client.urls["api"])
        assert "127.0.0.1:1" in api
        await adapter.close()
    gate = create_market_data_adapter("gateio")
    assert isinstance(gate, CcxtMarketDataAdapter)
    assert gate.client.id == "gate"
    await gate.close()


def test_unknown_ids_are_refused_clearly() -> None:
    with pytest.raises(UnknownExchange, match="nope"):
        create_market_data_adapter("nope")
    with pytest.raises(UnknownExchange):
        create_market_data_adapter("__class__")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ccxt.RateLimitExceeded("slow down"), RateLimited),
        (ccxt.DDoSProtection("418"), RateLimited),
        (ccxt.ExchangeNotAvailable("503"), TransientExchangeError),
        (ccxt.OnMaintenance("maintenance"), TransientExchangeError),
        (ccxt.RequestTimeout("timeout"), TransientExchangeError),
        (ccxt.NetworkError("reset"), TransientExchangeError),
        (ccxt.OperationFailed("-1000"), TransientExchangeError),
        (ccxt.BadSymbol("no such market"), UnknownSymbol),
        (ccxt.BadRequest("bad limit"), BadRequest),
        (ccxt.NotSupported("no ohlcv"), BadRequest),
        (TimeoutError(), TransientExchangeError),
    ],
)
def test_ccxt_errors_map_to_ours(error: Exception, expected: type[ExchangeError]) -> None:
    mapped = map_ccxt_error("x", error)
    assert type(mapped) is expected
    assert mapped.exchange == "x"


def test_rate_limited_carries_retry_after_from_headers() -> None:
    mapped = map_ccxt_error("x", ccxt.RateLimitExceeded("429"), {"Retry-After": "12"})
    assert isinstance(mapped, RateLimited)
    assert mapped.retry_after_s == 12.0
    plain = map_ccxt_error("x", ccxt.RateLimitExceeded("429"), {"retry-after": "soon"})
    assert isinstance(plain, RateLimited)
    assert plain.retry_after_s is None


def test_symbols_and_numbers() -> None:
    assert normalize_symbol("XBT/USD") == "BTC/USD"
    assert normalize_symbol("BTC/USDT:USDT") == "BTC/USDT:USDT"
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        normalize_symbol("BTCUSDT")
    assert str(to_decimal("0.00000001")) == "1E-8"
    for bad in (0.1, None, "NaN", "abc", True):
        with pytest.raises(ValueError, match="decimal"):
            to_decimal(bad)
