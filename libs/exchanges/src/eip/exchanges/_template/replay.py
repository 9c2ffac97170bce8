"""How the venue's recorded captures replay (``data/recorded/README.md`` is the format).

- ``DIALECT``, a ``machinery.replay.parser.ReplayDialect``: how trade and ticker frames are
  read by ``python -m eip.exchanges.machinery.replay``. Declare one only where ccxt's own
  handlers cannot read the venue's frames (an older API version, JSON numbers to read as
  Decimal); the registry then names it (``Venue.replay``). Model: ``kraken/replay.py``.
- ``BOOK_CAPTURE``, a ``machinery.capture.BookCaptureDialect``: what a capture's own
  subscriptions tell the venue's book adapter (symbols, settings, header names, one feed per
  recorded connection) for ``python -m eip.order_book.capture replay``; the registry names it
  (``Venue.book_capture``). Model: ``okx/replay.py``, ``bybit/replay.py``.
"""

from __future__ import annotations

from eip.exchanges.machinery.capture import BookCaptureDialect
from eip.exchanges.machinery.replay.parser import ReplayDialect

DIALECT = ReplayDialect()
BOOK_CAPTURE = BookCaptureDialect()
