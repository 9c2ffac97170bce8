"""Public market data: ``eip.exchanges.contract.market_data.MarketDataAdapter``.

Only where ccxt does not serve the venue well (it lacks the venue, or the venue's native
streams are what the platform needs): otherwise the registry entry names no ``market_data``
and ``eip.exchanges.ccxt`` serves it. A native adapter subclasses
``eip.exchanges.machinery.native_adapter.NativeAdapter`` (health, breaker, symbols, the
quiet-stream watchdog) with a ``VenueRest`` for REST (the rate-limit budget the venue
publishes, its error shapes → ``eip.exchanges.contract.errors``) and a ``VenueStream`` for the
WebSocket (subscribe on every (re)connect, which is the resubscription).

``create_adapter`` is what the registry calls: ``base_url`` moves REST (and, unless
``ws_base_url`` says otherwise, the streams) to one host — the exchange simulator, a recording
proxy. Model: ``binance/market_data.py``, ``bitmex/market_data.py``.
"""

from __future__ import annotations

from typing import Any

from eip.exchanges.contract.market_data import MarketDataAdapter


def create_adapter(
    *, base_url: str | None = None, ws_base_url: str | None = None, **options: Any
) -> MarketDataAdapter:
    """The registry's factory (``Venue.market_data``); ``options`` are the adapter's
    (``stale_after_s``, ``retry_policy``, ``breaker``, ...)."""
    raise NotImplementedError
