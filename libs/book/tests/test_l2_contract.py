import copy
import pickle
from collections.abc import Iterator
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


def test_copies_are_independent_and_exact() -> None:
    book = L2Book(price_decimals=2, size_decimals=3)
    book.replace([["100.25", "1.5"]], [["101", "0.001"]])
    for clone in (copy.copy(book), copy.deepcopy(book), pickle.loads(pickle.dumps(book))):  # noqa: S301 (our own bytes)
        assert type(clone) is L2Book
        assert (clone.price_decimals, clone.size_decimals) == (2, 3)
        assert clone.top_strings(5) == book.top_strings(5)
        clone.clear()
        assert book.bid_count == 1


def test_levels_may_read_the_book_while_it_reads_them() -> None:
    book = L2Book(price_decimals=2, size_decimals=2)
    book.replace([["10", "1"]], [["11", "1"]])

    def bids_below_best() -> Iterator[list[str]]:
        best = book.best_bid()  # runs while apply() iterates this generator
        assert best is not None
        yield [str(best[0] - 1), "2"]

    book.apply(bids_below_best(), [])
    assert book.bid_strings() == [("10.00", "1.00"), ("9.00", "2.00")]
