"""``python -m eip.order_book.capture``: record a venue's live book traffic, or replay a capture
offline, through the venue packages' own book adapters. The command itself is
``eip.exchanges.machinery.book_capture`` (docs/ORDER_BOOK.md, "Record and replay")."""
