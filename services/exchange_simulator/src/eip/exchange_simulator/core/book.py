"""The engine's order book: price levels with FIFO queues, best price first."""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from eip.exchange_simulator.core.orders import Order, Side

ZERO = Decimal(0)


@dataclass
class Level:
    price: Decimal
    orders: deque[Order] = field(default_factory=deque)
    total: Decimal = ZERO


class SideBook:
    """One side. Prices are kept ascending; bids read it from the end."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.levels: dict[Decimal, Level] = {}
        self._prices: list[Decimal] = []

    def best(self) -> Level | None:
        if not self._prices:
            return None
        price = self._prices[-1] if self.side is Side.BUY else self._prices[0]
        return self.levels[price]

    def iter_levels(self) -> Iterator[Level]:
        prices = reversed(self._prices) if self.side is Side.BUY else iter(self._prices)
        for price in list(prices):
            yield self.levels[price]

    def add(self, order: Order) -> Level:
        assert order.price is not None
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = Level(order.price)
            bisect.insort(self._prices, order.price)
        level.orders.append(order)
        level.total += order.remaining
        return level

    def remove(self, order: Order) -> Level:
        assert order.price is not None
        level = self.levels[order.price]
        level.orders.remove(order)
        level.total -= order.remaining
        self._drop_if_empty(level)
        return level

    def reduce(self, level: Level, qty: Decimal) -> None:
        level.total -= qty

    def pop_front_if_done(self, level: Level) -> None:
        while level.orders and level.orders[0].remaining == 0:
            level.orders.popleft()
        self._drop_if_empty(level)

    def _drop_if_empty(self, level: Level) -> None:
        if not level.orders:
            del self.levels[level.price]
            index = bisect.bisect_left(self._prices, level.price)
            del self._prices[index]

    def depth(self, limit: int) -> list[tuple[Decimal, Decimal]]:
        out: list[tuple[Decimal, Decimal]] = []
        for level in self.iter_levels():
            if len(out) >= limit:
                break
            out.append((level.price, level.total))
        return out

    def __len__(self) -> int:
        return len(self._prices)


class OrderBook:
    def __init__(self) -> None:
        self.bids = SideBook(Side.BUY)
        self.asks = SideBook(Side.SELL)

    def side(self, side: Side) -> SideBook:
        return self.bids if side is Side.BUY else self.asks

    def opposite(self, side: Side) -> SideBook:
        return self.asks if side is Side.BUY else self.bids
