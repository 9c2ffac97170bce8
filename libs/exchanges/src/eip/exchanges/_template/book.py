"""The venue's exact L2 book: ``eip.exchanges.contract.book_feed.BookFeed``.

Subclass ``eip.exchanges.machinery.ws_book_feed.WsBookFeed`` and speak the venue's dialect
through its hooks (``_prepare``: instruments and decimals; ``_url``; ``_on_open``;
``_on_frame``; ``_send_subscribe`` / ``_send_unsubscribe``; ``_resync``); the base owns the
books' lifecycle, so every venue desyncs, counts and logs alike. Reach the network only
through the ``Transport`` given (``machinery.transport``): live, recording and replay then run
the same code. Keep the book exact by the venue's own rule — sequence numbers, update-id
chains against a REST snapshot, checksums — and say in the module's first lines what that rule
is and what it cannot see (a venue without sequence numbers cannot show a lost update). A big
rule or checksum goes into ``book_sync.py`` / ``checksum.py`` beside this module.

``create_feed`` is what the registry calls (``Venue.book``); with ``live_book="native"`` it
serves live books, else it replays captures and ccxt.pro serves live books. The functions that
read what a capture recorded (``recorded_book_symbols``, ...) live here too, and ``replay.py``
declares them. Model: ``binance/book.py`` (+ ``book_sync.py``), ``kraken/book.py``
(+ ``checksum.py``), ``okx/book.py``.
"""

from __future__ import annotations

from typing import Any

from eip.exchanges.machinery.transport import Transport
from eip.exchanges.machinery.ws_book_feed import FeedOptions, WsBookFeed


def create_feed(
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **settings: Any,
) -> WsBookFeed:
    """The registry's factory: ``rest_url``/``ws_url`` are set when the feed is pointed at the
    exchange simulator (``Venue.simulator_ws_path``); ``settings`` are the adapter's own
    keywords (depth, channel, ...), also what a capture's ``BookCaptureDialect`` reads."""
    raise NotImplementedError
