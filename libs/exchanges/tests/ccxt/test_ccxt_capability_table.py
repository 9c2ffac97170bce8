"""docs/TRADING_ADAPTERS.md's capability rows of the venues ccxt trades are the adapters'
declared capabilities: a change to a venue's ``CAPABILITIES`` fails here until the document
says the same."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from eip.exchanges.ccxt.trading import capability_row
from eip.exchanges.registry import create_trading_adapter

DOC = Path(__file__).parents[4] / "docs" / "TRADING_ADAPTERS.md"
ROWS = {
    "okx": "OKX (ccxt)",
    "bybit": "Bybit (ccxt)",
    "kucoin": "KuCoin (ccxt)",
    "bitfinex": "Bitfinex (ccxt)",
    "htx": "HTX (ccxt)",
    "gateio": "Gate.io (ccxt)",
}


@pytest.mark.parametrize(("venue", "name"), ROWS.items())
def test_the_documented_row_is_the_adapters_declared_capabilities(venue: str, name: str) -> None:
    capabilities = importlib.import_module(f"eip.exchanges.{venue}.trading").CAPABILITIES
    documented = [line for line in DOC.read_text().splitlines() if line.startswith(f"| {name} |")]
    assert documented == [capability_row(name, capabilities)]


class _Signer:
    exchange = "okx"

    async def sign(self, request: object) -> object:
        raise AssertionError("ccxt venues never sign through auth's /sign")

    async def aclose(self) -> None: ...


@pytest.mark.parametrize("venue", ROWS)
def test_the_registry_refuses_a_signer_that_cannot_hand_out_the_secret(venue: str) -> None:
    with pytest.raises(TypeError, match="signs in-process"):
        create_trading_adapter(venue, _Signer())  # type: ignore[arg-type]
