"""Everything the platform knows about exchanges, one package per venue.

- ``eip.exchanges.contract``: the normalized vocabulary (``BASE/QUOTE`` symbols, trades,
  tickers, book events, orders, errors) and the protocols every venue implements (market data,
  book feed, key validation, trading).
- ``eip.exchanges.<venue>`` (``binance``, ``kraken``, ``coinbase``, ``bitmex``, and ``okx``,
  ``kucoin``, ``htx``, ``bybit``, ``bitfinex``, ``gateio`` where ccxt needs help): the same
  module names in every venue — ``market_data``, ``book``, ``credentials``, ``replay``,
  ``symbols``, ``wire``, ``trading`` — each present where the venue has that code.
  ``_template`` is the venue to copy (``docs/ADDING_A_VENUE.md``).
- ``eip.exchanges.ccxt``: the generic adapter for any venue ccxt serves.
- ``eip.exchanges.machinery``: what venue packages run on (REST and WebSocket loops, transports,
  stream health, the capture format, the replay runners); it knows no venue.
- ``eip.exchanges.registry``: the one map from a venue id to its package's factories. Services
  look venues up there by the id in their configuration and never import a venue package.

Importing this package imports nothing else: a venue's code (and ccxt) loads only when used.
"""
