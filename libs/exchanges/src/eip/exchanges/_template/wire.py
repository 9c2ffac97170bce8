"""The venue's message types, and how each becomes the contract's records.

Numbers are taken from the venue's text: a JSON string straight to ``Decimal``; a venue that
sends JSON numbers is decoded with ``json.loads(parse_float=Decimal)`` so no binary float ever
holds a price (``bitmex/wire.py``). Times become aware UTC datetimes. A message that does not
fit raises (``KeyError``, ``ValueError``): the caller counts it as a parse error and goes on,
it never becomes a half-filled record.

Model: ``binance/wire.py`` (trades, tickers, klines), ``kraken/wire.py`` (book messages of two
API versions in one shape).
"""
