"""The open orders of the accounts this instance owns, as the limits count them: how many are
open, and what orders the venue has not locked funds for yet (queued, held for confirmation,
emulated, sent without an answer) will need. Rebuilt from PostgreSQL when a partition is taken
over, kept current from every committed change (``Ledger.watch_all``)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from eip.order_management.orders import ListRole, Order
from eip.order_management.state_machine import OrderState

ZERO = Decimal(0)
# States whose funds the venue has not locked (yet): a buy of these needs its quote, a sell its
# base, on top of what the venue's free balance already excludes.
_UNLOCKED = frozenset(
    {
        OrderState.PENDING_NEW,
        OrderState.AWAITING_CONFIRMATION,
        OrderState.EMULATED,
        OrderState.SUBMITTED,
    }
)


def assets(symbol: str) -> tuple[str, str]:
    base, _, quote = symbol.partition("/")
    return base, quote


@dataclass(frozen=True, slots=True)
class Reservation:
    account_id: str
    exchange: str
    asset: str
    amount: Decimal
    partition: int


def unlocked(order: Order) -> bool:
    """The venue has not locked funds for this order (yet)."""
    return order.state in _UNLOCKED or (order.state is OrderState.TRIGGERED and order.emulated)


def reservation(order: Order, reference: Decimal | None = None) -> Reservation | None:
    """What an open order takes from the account: a buy's quote amount (at its own price,
    else ``reference``), a sell's base quantity; None if it takes nothing of its own (a bracket
    exit waiting for its entry, an OCO's stop leg sharing its limit leg's quantity) or cannot
    be priced."""
    if not order.is_open or order.awaits_entry or order.list_role is ListRole.STOP_LEG:
        return None
    base, quote = assets(order.symbol)
    if order.side == "sell":
        amount = order.remaining if order.quantity is not None else None
        if amount is None:
            return None
        return Reservation(order.account_id, order.exchange, base, amount, order.partition)
    if order.quote_quantity is not None:
        amount = order.quote_quantity
    else:
        price = order.price or order.stop_price or order.trigger_price or reference
        remaining = order.remaining
        if price is None or remaining is None:
            return None
        amount = remaining * price
    return Reservation(order.account_id, order.exchange, quote, amount, order.partition)


class Exposure:
    """Reservations are counted against a balance figure when the venue had not locked them
    when that figure was read: orders not at the venue yet, and orders the venue took after
    the figure's time (``reserved(since=...)``) — a balance read a moment before an
    acknowledgement does not show its lock."""

    def __init__(self) -> None:
        self._open: dict[str, dict[str, Order]] = {}  # account -> order id -> order
        self._reserved: dict[str, Reservation] = {}  # order id -> reservation
        self._estimates: dict[str, Decimal] = {}  # order id -> price used for a market buy
        self._locked_at: dict[str, float] = {}  # order id -> when the venue took it

    def load(self, orders: Iterable[Order]) -> None:
        for order in orders:
            self.update(order)

    def update(self, order: Order, estimate: Decimal | None = None) -> None:
        if estimate is not None:
            self._estimates[order.order_id] = estimate
        account = self._open.setdefault(order.account_id, {})
        if order.is_open:
            account[order.order_id] = order
            if not unlocked(order):
                self._locked_at.setdefault(order.order_id, time.monotonic())
        else:
            account.pop(order.order_id, None)
            self._estimates.pop(order.order_id, None)
            self._locked_at.pop(order.order_id, None)
        reserved = reservation(order, self._estimates.get(order.order_id))
        if reserved is None:
            self._reserved.pop(order.order_id, None)
        else:
            self._reserved[order.order_id] = reserved

    def forget_partitions(self, partitions: set[int]) -> None:
        for account, orders in list(self._open.items()):
            for order_id, order in list(orders.items()):
                if order.partition in partitions:
                    del orders[order_id]
                    self._reserved.pop(order_id, None)
                    self._estimates.pop(order_id, None)
                    self._locked_at.pop(order_id, None)
            if not orders:
                del self._open[account]

    def open_count(self, account_id: str) -> int:
        return len(self._open.get(account_id, ()))

    def open_orders(self, account_id: str) -> list[Order]:
        return list(self._open.get(account_id, {}).values())

    def reserved(
        self, account_id: str, exchange: str, asset: str, *, since: float | None = None
    ) -> Decimal:
        """What open orders still need of ``asset`` beyond a balance figure read at ``since``
        (monotonic): orders the venue has not locked, and those it locked after ``since``."""
        total = ZERO
        for order in self._open.get(account_id, {}).values():
            r = self._reserved.get(order.order_id)
            if r is None or r.exchange != exchange or r.asset != asset:
                continue
            locked_at = self._locked_at.get(order.order_id)
            if locked_at is None or since is None or locked_at > since:
                total += r.amount
        return total
