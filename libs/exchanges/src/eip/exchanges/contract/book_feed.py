"""What the order-book service expects of an exchange book feed (each venue package's
``book.py``; the generic one is ``eip.exchanges.ccxt.book``).

A feed keeps one exact ``L2Book`` per subscribed symbol of one exchange and reports every change
as a ``BookEvent`` (``book_events.py``), in order per symbol. ``run`` owns the connection:
it reconnects and resynchronizes by itself and returns only when cancelled (or, replaying a
capture, when the capture is exhausted). The service calls
``emit`` synchronously-in-spirit: it reads the event's book before it awaits anything, so a feed
may mutate the book again as soon as ``emit`` returns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Protocol

from eip.exchanges.contract.book_events import BookEvent

Emit = Callable[[BookEvent], Awaitable[None]]


class BookFeed(Protocol):
    @property
    def exchange(self) -> str:
        """The ccxt id of the venue ("binance")."""
        ...

    @property
    def symbols(self) -> Collection[str]:
        """The normalized symbols ("BTC/USDT") the feed is subscribed to now."""
        ...

    async def run(self, emit: Emit) -> None:
        """Stream events until cancelled; a ``BookSnapshot`` starts each in-sync period."""
        ...

    async def subscribe(self, symbol: str) -> None:
        """Add a symbol while running (or before); its first event is a ``BookSnapshot``."""
        ...

    async def unsubscribe(self, symbol: str) -> None:
        """Stop a symbol; no event for it follows."""
        ...
