"""Where the service gets its adapters: ``eip.exchanges.create_market_data_adapter``, pointed
at the configured base URL (the simulator in tests and ``make up``) when there is one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eip.config import ConfigError
from eip.exchanges.market_data import MarketDataAdapter
from eip.market_data.settings import MarketDataSettings

AdapterFactory = Callable[[str, MarketDataSettings], MarketDataAdapter]


def create_adapter(exchange: str, settings: MarketDataSettings) -> MarketDataAdapter:
    """Raises ``ConfigError`` for an exchange no adapter supports."""
    try:
        from eip.exchanges import create_market_data_adapter  # type: ignore[attr-defined]
    except ImportError:  # the adapters land with the md-access branch
        raise ConfigError(
            "market-data", ["eip.exchanges.create_market_data_adapter is not available"]
        ) from None
    factory: Callable[..., Any] = create_market_data_adapter
    try:
        adapter: MarketDataAdapter = factory(
            exchange, base_url=settings.exchange_urls.get(exchange)
        )
    except (KeyError, ValueError) as exc:
        raise ConfigError(
            "market-data", [f"no market-data adapter for {exchange!r}: {exc}"]
        ) from None
    return adapter
