"""Bitfinex: the v2 ``book`` channel (P0..P4) with the connection-wide ``SEQ_ALL`` sequence, for
replaying captures, and the venue's pair names ↔ platform symbols. Live market data and live
books go through the generic ccxt adapter. Registered in ``eip.exchanges.registry``."""
