"""OKX: v5 order books (``books``, ``books-l2-tbt``, ...) with the venue's CRC32 checksum, for
replaying captures, and the venue's instruments ↔ platform symbols. Live market data and live
books go through the generic ccxt adapter. Registered in ``eip.exchanges.registry``."""
