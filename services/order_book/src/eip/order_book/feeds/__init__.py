"""Exchange book feeds: native WebSocket adapters (and ccxt.pro for the rest) that keep one
exact ``L2Book`` per instrument and report it through the events of
``eip.exchanges.contract.book_events``.

The ``BookFeed`` protocol (``base.py``) is all the service needs::

    feed = create_feed("binance", ["BTC/USDT"], LiveTransport())   # or CcxtProFeed("okx", ...)
    task = asyncio.create_task(feed.run(emit))  # emit: async (BookEvent) -> None, in order
    await feed.subscribe("ETH/USDT")            # and unsubscribe(symbol), while running

``run`` keeps going until cancelled: it loads instrument metadata, connects, subscribes, and
for each instrument emits ``BookSnapshot`` when the book is (re)built, ``BookDelta`` for every
applied update, and ``BookDesync`` (gap, checksum, crossed, stale, disconnected, error) when the
book stops being trustworthy — the book is then cleared, never emitted, and rebuilt (REST
snapshot for Binance, resubscription for Kraken and Coinbase, a new ccxt subscription). Lost
connections reconnect with ``eip.resilience`` backoff. Each event carries the adapter's live
``L2Book``: read it inside ``emit``, before awaiting anything else.

Adapters reach the network only through a ``Transport`` (``transport.py``): ``LiveTransport``
in production, ``eip.order_book.capture``'s recording and replay transports otherwise, so a
recorded capture replays through exactly the code live traffic runs through.

- ``binance/``: REST ``depth?limit=1000`` + ``<symbol>@depth@100ms``, ids ``U``/``u`` (``sync.py``)
- ``kraken/``: ``book`` channel v2 (v1 for old captures), depth truncation, CRC32 (``checksum.py``)
- ``coinbase/``: Advanced Trade ``level2``, per-connection ``sequence_num``
- ``ccxt_pro/``: any ccxt.pro exchange via ``watch_order_book``, ccxt's own checks switched on
"""

from eip.exchanges.contract.book_feed import BookFeed, Emit
from eip.exchanges.machinery.transport import LiveTransport, Transport
from eip.exchanges.machinery.ws_book_feed import FeedOptions, WsBookFeed
from eip.order_book.feeds.factory import create_feed

__all__ = [
    "BookFeed",
    "Emit",
    "FeedOptions",
    "LiveTransport",
    "Transport",
    "WsBookFeed",
    "create_feed",
]
