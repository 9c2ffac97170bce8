"""The id-keyed level table of one BitMEX ``orderBookL2`` instrument.

BitMEX names every price level by an ``id``; ``insert`` rows carry the id with side, size and
price, while ``update`` and ``delete`` rows carry only the id (and side, size): the price must
come from what was inserted before. An id the table does not know, or an insert of an id it
already holds, means part of the stream is missing — the caller desyncs the book.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any


class LevelTableError(ValueError):
    pass


def decimal_text(value: Any) -> str:
    """A JSON number (parsed as Decimal, never float) or string as plain fixed-point text."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise LevelTableError(f"not a finite number: {value!r}")
    return format(number, "f")


def side_of(row: Mapping[str, Any]) -> str:
    side = row.get("side")
    if side not in ("Buy", "Sell"):
        raise LevelTableError(f"row without side Buy/Sell: {dict(row)!r}"[:300])
    return str(side)


class LevelTable:
    def __init__(self) -> None:
        self._price: dict[int, tuple[str, str]] = {}  # id -> (side, price text)

    def __len__(self) -> int:
        return len(self._price)

    def load(self, rows: Iterable[Mapping[str, Any]]) -> tuple[list[list[str]], list[list[str]]]:
        """Replace the table from a ``partial``; the book's bids and asks."""
        self._price.clear()
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        for row in rows:
            side, level = self._insert(row)
            (bids if side == "Buy" else asks).append(level)
        return bids, asks

    def change(
        self, action: str, rows: Iterable[Mapping[str, Any]]
    ) -> tuple[list[list[str]], list[list[str]]]:
        """One ``insert``/``update``/``delete``: the levels to apply (size "0" removes)."""
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        for row in rows:
            if action == "insert":
                side, level = self._insert(row)
            elif action in ("update", "delete"):
                side, price = self._known(row)
                if action == "delete":
                    level = [price, "0"]
                    del self._price[int(row["id"])]
                else:
                    level = [price, decimal_text(row["size"])]
            else:
                raise LevelTableError(f"unknown action {action!r}")
            (bids if side == "Buy" else asks).append(level)
        return bids, asks

    def _insert(self, row: Mapping[str, Any]) -> tuple[str, list[str]]:
        try:
            level_id = int(row["id"])
            price = decimal_text(row["price"])
            size = decimal_text(row["size"])
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise LevelTableError(f"bad row {dict(row)!r}: {exc!r}"[:300]) from exc
        side = side_of(row)
        if level_id in self._price:
            raise LevelTableError(f"insert of id {level_id} that is already in the book")
        self._price[level_id] = (side, price)
        return side, [price, size]

    def _known(self, row: Mapping[str, Any]) -> tuple[str, str]:
        try:
            level_id = int(row["id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LevelTableError(f"row without id: {dict(row)!r}"[:300]) from exc
        known = self._price.get(level_id)
        if known is None:
            raise LevelTableError(f"id {level_id} is not in the book")
        side, price = known
        if side_of(row) != side:
            raise LevelTableError(f"id {level_id} changed side from {side}")
        if "price" in row and Decimal(decimal_text(row["price"])) != Decimal(price):
            # Newer API versions repeat the price; it must be the one the id was inserted with.
            raise LevelTableError(f"id {level_id} changed price from {price} to {row['price']}")
        return side, price
