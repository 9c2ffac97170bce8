"""The order-book service: exact L2 books from exchange feeds, published on Kafka as sequenced
deltas and snapshots, and analysed over HTTP (docs/ORDER_BOOK.md)."""

__version__ = "0.1.0"
