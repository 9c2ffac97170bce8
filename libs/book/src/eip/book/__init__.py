"""The platform's one L2 order book.

Prices and sizes cross this API as decimal strings (in) and ``Decimal`` or fixed-point strings
(out); inside, they are integer ticks scaled by the book's ``price_decimals`` and
``size_decimals``, so equality is exact and no binary float ever touches money.
"""

from eip.book.l2 import L2Book, Level

__all__ = ["L2Book", "Level"]
