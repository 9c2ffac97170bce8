"""HTX (ex-Huobi): spot ``market.$symbol.depth.step0`` books and their gzip frames, for
replaying captures. Live market data and live books go through the generic ccxt adapter.
Registered in ``eip.exchanges.registry``."""
