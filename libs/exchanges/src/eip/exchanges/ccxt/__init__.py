"""The generic adapter: any venue the pinned, unmodified ccxt (4.5.90) serves.

``market_data`` (REST and ccxt.pro streams behind ``MarketDataAdapter``), ``parse`` (ccxt's
unified structures → the contract), ``errors`` (ccxt's exception tree → the contract's),
``urls`` (a ccxt instance moved to another host), ``replay`` and ``classify`` (captures through
ccxt's own frame handlers). A venue ccxt serves gets a package of its own only for what ccxt
cannot do for it.
"""
