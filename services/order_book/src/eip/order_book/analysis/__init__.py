"""Pure functions over book levels (``(price, size)`` Decimal pairs, best first): no I/O, no
floats, so the HTTP API and anyone else can use them on any book."""
