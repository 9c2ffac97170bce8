"""The generic adapter: any venue the pinned, unmodified ccxt (4.5.90) serves.

``market_data`` (REST and ccxt.pro streams behind ``MarketDataAdapter``), ``book``
(``watch_order_book`` behind the book feed protocol), ``parse`` (ccxt's unified structures →
the contract), ``errors`` (ccxt's exception tree → the contract's), ``urls`` (a ccxt instance
moved to another host), ``replay`` and ``classify`` (captures' trades and tickers through ccxt's
own frame handlers), ``book_capture`` and ``proxy`` (recording and replaying what ccxt.pro
itself sent and received). A venue ccxt serves gets a package of its own only for what ccxt
cannot do for it.
"""
