"""What a trading adapter's private stream has delivered, so that nothing goes out twice or out
of order, and what a catch-up after a reconnect has to ask the venue for. Venue-neutral: every
native trading adapter keeps one.

- **Order updates** pass only when their ``update_key()`` is above the last one delivered for
  that order: a REST snapshot taken during a catch-up and the stream's own backlog can then
  arrive in any order and the consumer still sees each order's life only move forward.
- **Fills** pass once per (symbol, trade id, venue order id) — both sides of a self-trade are
  the account's fills of one trade id. The newest trade delivered per symbol is where a
  catch-up reads the venue's fill history from.
- **Orders known open** (from the stream and from the adapter's own REST answers) are what a
  catch-up must look up when they are no longer open: they may have filled while it was down.

Memory is bounded: the oldest orders and trades are forgotten first (a venue's ids only grow,
so a forgotten one is long closed and will not be replayed).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from decimal import Decimal

from eip.exchanges.contract.trading import VenueFill, VenueOrder

MAX_ORDERS = 100_000
MAX_TRADES_PER_SYMBOL = 20_000


class PrivateState:
    def __init__(
        self,
        trade_order: Callable[[str], int] = int,
        max_orders: int = MAX_ORDERS,
        max_trades_per_symbol: int = MAX_TRADES_PER_SYMBOL,
    ) -> None:
        self._trade_order = trade_order
        self._max_orders = max_orders
        self._max_trades = max_trades_per_symbol
        self._keys: OrderedDict[str, tuple[int, Decimal, int]] = OrderedDict()
        self._trades: dict[str, set[tuple[str, str]]] = {}
        self._trade_queue: dict[str, deque[tuple[str, str]]] = {}
        self._newest_trade: dict[str, int] = {}
        self.open_orders: dict[str, str] = {}  # venue order id -> symbol
        self.client_ids: OrderedDict[str, str] = OrderedDict()  # venue order id -> client id
        self.symbols: set[str] = set()

    def note(self, order: VenueOrder) -> None:
        """Remember what the order says about tracking (open or not, its client id, its
        symbol) without delivering it: the adapter's own REST answers."""
        self.symbols.add(order.symbol)
        if order.client_order_id is not None:
            self.client_ids[order.venue_order_id] = order.client_order_id
            self.client_ids.move_to_end(order.venue_order_id)
            while len(self.client_ids) > self._max_orders:
                self.client_ids.popitem(last=False)
        if order.status.is_open:
            self.open_orders[order.venue_order_id] = order.symbol
        else:
            self.open_orders.pop(order.venue_order_id, None)

    def admit_order(self, order: VenueOrder) -> bool:
        """Whether to deliver this update: only when it is newer than the last delivered."""
        key = order.update_key()
        last = self._keys.get(order.venue_order_id)
        if last is not None and key <= last:
            return False
        self._keys[order.venue_order_id] = key
        self._keys.move_to_end(order.venue_order_id)
        while len(self._keys) > self._max_orders:
            self._keys.popitem(last=False)
        self.note(order)
        return True

    def admit_fill(self, fill: VenueFill) -> bool:
        """Whether to deliver this fill: only the first time."""
        ident = (fill.trade_id, fill.venue_order_id)
        seen = self._trades.setdefault(fill.symbol, set())
        if ident in seen:
            return False
        queue = self._trade_queue.setdefault(fill.symbol, deque())
        seen.add(ident)
        queue.append(ident)
        while len(queue) > self._max_trades:
            seen.discard(queue.popleft())
        self.symbols.add(fill.symbol)
        position = self._trade_order(fill.trade_id)
        if position > self._newest_trade.get(fill.symbol, position - 1):
            self._newest_trade[fill.symbol] = position
        return True

    def newest_trade(self, symbol: str) -> int | None:
        """Where the newest fill delivered on ``symbol`` stands in the venue's trade order (a
        catch-up reads from there, inclusive: fills already delivered are dropped again)."""
        return self._newest_trade.get(symbol)
