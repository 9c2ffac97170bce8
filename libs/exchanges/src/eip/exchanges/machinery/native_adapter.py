"""What every native (non-ccxt) ``MarketDataAdapter`` shares: health, the breaker, symbol
lookup, subscription bookkeeping, the quiet-stream watchdog and status.

A venue builds its ``rest`` and ``stream`` and says how much rate-limit headroom it has left.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from eip.exchanges.contract.errors import UnknownSymbol
from eip.exchanges.contract.market_data import Channel, StreamStatus
from eip.exchanges.contract.symbols import SymbolMap
from eip.exchanges.machinery.health import StreamHealth, watch
from eip.exchanges.machinery.venue_rest import VenueRest
from eip.exchanges.machinery.venue_stream import VenueStream
from eip.resilience import CircuitBreaker


class NativeAdapter:
    """Subclasses set ``exchange`` and build ``rest`` and ``stream`` after ``__init__``."""

    exchange: str
    rest: VenueRest
    stream: VenueStream[Any]

    def __init__(
        self,
        stale_after_s: float,
        reconnect_when_quiet_s: float | None,
        breaker: CircuitBreaker | None,
    ) -> None:
        self.health = StreamHealth(self.exchange, stale_after_s)
        # a socket that stays open but silent (it happens) is replaced; default 3x the alarm
        self.reconnect_when_quiet_s = reconnect_when_quiet_s or 3 * stale_after_s
        self.breaker = breaker or CircuitBreaker(self.exchange)
        self._symbols: SymbolMap | None = None
        self._subscriptions: set[tuple[Channel, str]] = set()

    async def load_markets(self) -> list[str]:
        raise NotImplementedError

    def _headroom(self) -> float | None:
        """The rate-limit budget left, as the venue's limiter counts it."""
        raise NotImplementedError

    async def _instrument(self, symbol: str) -> str:
        if self._symbols is None:
            await self.load_markets()
        assert self._symbols is not None
        try:
            return self._symbols.exchange_id(symbol)
        except KeyError:
            raise UnknownSymbol(self.exchange, f"unknown symbol {symbol!r}") from None

    def subscriptions(self) -> set[tuple[Channel, str]]:
        return set(self._subscriptions)

    async def _run_stream(self, handler: Any) -> None:
        """The stream's loop with the watchdog beside it, until cancelled."""
        watchdog = asyncio.create_task(self._watchdog())
        try:
            await self.stream.run(handler)
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

    async def _watchdog(self) -> None:
        await watch(
            self.health,
            lambda: bool(self._subscriptions),
            self.stream.force_reconnect,
            self.reconnect_when_quiet_s,
        )

    def status(self) -> StreamStatus:
        return self.health.status(self.breaker.is_open, self._headroom())

    async def close(self) -> None:
        await self.rest.aclose()
