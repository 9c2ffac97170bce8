"""The venue to copy: ``cp -r _template <venue>`` starts the eleventh venue's package.

Every venue package has these modules, each present where the venue has that code (a venue
ccxt serves well needs only what ccxt cannot do for it — often ``book.py`` and ``replay.py``):

- ``symbols.py``: the venue's instrument names ↔ the platform's ``BASE/QUOTE[:SETTLE]``.
- ``wire.py``: the venue's message types and how they are parsed into the contract's records.
- ``market_data.py``: trades, tickers and candles (``contract.market_data.MarketDataAdapter``).
- ``book.py``: the exact L2 book by the venue's rules (``contract.book_feed.BookFeed``, on
  ``machinery.ws_book_feed.WsBookFeed``); a big sync rule or checksum goes into
  ``book_sync.py`` / ``checksum.py`` beside it.
- ``credentials.py``: API key validation and permissions
  (``contract.credentials.KeyValidator``), used by the auth service.
- ``trading.py``: orders, fills, balances and private streams
  (``contract.trading.TradingAdapter``), signing through the auth service.
- ``replay.py``: how the venue's recorded captures replay (``ReplayDialect`` for trades and
  tickers, ``BookCaptureDialect`` for books).

Nothing here is registered: a copy becomes a venue with its entry in
``eip.exchanges.registry``. The walk-through is ``docs/ADDING_A_VENUE.md``.
"""
