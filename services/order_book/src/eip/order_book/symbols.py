"""Whether a venue lists a symbol, from the venue's own metadata (``load_markets`` of the
``eip.exchanges`` adapter for it), so a subscription to a symbol the venue does not list is
refused before it is stored.

The list is loaded once per exchange and reloaded when a symbol is missing from it (the venue
may have listed it since). A venue that cannot be reached raises ``TransientExchangeError``:
the caller keeps the subscription, as the feed itself retries the venue. An exchange with no
listing to check against (no metadata adapter, or the venue refuses the listing request) is
not checked: its feed reports a symbol it cannot follow.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from eip.exchanges.contract.errors import (
    ExchangeError,
    TransientExchangeError,
    UnknownExchange,
    UnknownSymbol,
)
from eip.exchanges.contract.market_data import MarketDataAdapter
from eip.exchanges.registry import create_market_data_adapter
from eip.order_book.settings import OrderBookSettings

log = logging.getLogger(__name__)

# (exchange, symbol) -> None, or raises UnknownSymbol / TransientExchangeError
SymbolCheck = Callable[[str, str], Awaitable[None]]


class VenueSymbols:
    def __init__(self, settings: OrderBookSettings) -> None:
        self._settings = settings
        self._adapters: dict[str, MarketDataAdapter] = {}
        self._listed: dict[str, frozenset[str]] = {}

    async def check(self, exchange: str, symbol: str) -> None:
        if symbol in self._listed.get(exchange, frozenset()):
            return
        adapter = self._adapter(exchange)
        if adapter is None:
            return
        try:
            self._listed[exchange] = frozenset(await adapter.load_markets())
        except TransientExchangeError:
            raise
        except ExchangeError as exc:
            # the venue (or the simulator's dialect of it) serves no listing to check against;
            # as with an exchange without a metadata adapter, the feed is left to report it
            log.warning(
                "symbols cannot be checked", extra={"exchange": exchange, "error": str(exc)}
            )
            return
        if symbol not in self._listed[exchange]:
            raise UnknownSymbol(exchange, f"unknown symbol {symbol!r}")

    def _adapter(self, exchange: str) -> MarketDataAdapter | None:
        adapter = self._adapters.get(exchange)
        if adapter is None:
            try:
                adapter = create_market_data_adapter(
                    exchange, base_url=self._settings.exchange_urls.get(exchange) or None
                )
            except UnknownExchange:
                # a book feed without a metadata adapter: nothing to check against; the feed
                # reports a symbol its venue does not serve when it starts it
                log.warning("symbols cannot be checked", extra={"exchange": exchange})
                return None
            self._adapters[exchange] = adapter
        return adapter

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            try:
                await adapter.close()
            except Exception as exc:
                log.warning("metadata adapter close failed", extra={"error": repr(exc)})
        self._adapters.clear()
