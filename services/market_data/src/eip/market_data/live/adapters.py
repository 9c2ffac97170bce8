"""Where the service gets its adapters: ``eip.exchanges.create_market_data_adapter``, pointed
at the configured base URL (the simulator in tests and ``make up``) when there is one."""

from __future__ import annotations

from collections.abc import Callable

from eip.config import ConfigError
from eip.exchanges.contract.market_data import MarketDataAdapter
from eip.exchanges.registry import create_market_data_adapter
from eip.market_data.settings import MarketDataSettings

AdapterFactory = Callable[[str, MarketDataSettings], MarketDataAdapter]


def create_adapter(exchange: str, settings: MarketDataSettings) -> MarketDataAdapter:
    """Raises ``ConfigError`` for an exchange no adapter supports."""
    try:
        return create_market_data_adapter(
            exchange,
            base_url=settings.exchange_urls.get(exchange),
            stale_after_s=settings.stale_after_s,
        )
    except ValueError as exc:  # eip.exchanges.contract.errors.UnknownExchange
        raise ConfigError(
            "market-data", [f"no market-data adapter for {exchange!r}: {exc}"]
        ) from None
