from decimal import Decimal

import pytest

from eip.book import L2Book


def test_levels_are_exact_and_best_first() -> None:
    book = L2Book(price_decimals=2, size_decimals=3)
    book.replace([["100.00", "1.000"], ["99.5", "2"]], [["101", "0.5"], ["100.01", "3.25"]])
    book.apply([["99.5", "0"], ["100.5", "1"]], [])
    assert book.best_bid() == (Decimal("100.5"), Decimal("1"))
    assert book.best_ask() == (Decimal("100.01"), Decimal("3.25"))
    assert book.bid_strings() == [("100.50", "1.000"), ("100.00", "1.000")]
    assert book.ask_strings(1) == [("100.01", "3.250")]
    assert book.is_crossed()  # 100.50 bid over a 100.01 ask


def test_a_bad_level_changes_nothing() -> None:
    book = L2Book(price_decimals=2, size_decimals=2)
    book.replace([["10", "1"]], [["11", "1"]])
    with pytest.raises(ValueError, match="decimal places"):
        book.apply([["10.5", "1"], ["10.123", "1"]], [])
    assert book.bids() == [(Decimal("10"), Decimal("1"))]
