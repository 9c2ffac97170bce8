"""Realized and unrealized profit and loss from stored trades: FIFO or average cost.

PnL is kept per instrument (``BASE/QUOTE``) in that instrument's quote asset — a BTC/USDT lot
was paid in USDT and its profit is in USDT — and converted into the caller's quote currency
only at the end, at current prices (``eip.account.valuation``). The same trades always give the
same numbers: nothing here reads a clock or a price.

Fees, as the venues charge them:

- in the quote asset: a buy's fee adds to the lot's cost, a sell's fee reduces its proceeds;
- in the base asset: a buy's fee reduces the quantity received (the lot is smaller), a sell's
  fee adds to the quantity that leaves the position;
- in a third asset (BNB, a fee token): not part of any lot; listed under fees paid in that
  asset and valued at current prices in the totals.

A sale of more than the recorded buys hold (coins deposited, or bought before the history
starts) has no cost basis for the excess: that quantity is reported as ``unmatched_quantity``
and its share of the proceeds is left out of realized PnL rather than counted as pure profit.

FIFO consumes the oldest lots first; average cost keeps one pool whose unit cost is total cost
over quantity. Both are compared with naive models on generated trade sequences (Hypothesis).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Literal

Method = Literal["fifo", "average"]
Side = Literal["buy", "sell"]
PRECISION = 34
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Trade:
    symbol: str  # BASE/QUOTE
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal = _ZERO
    fee_asset: str | None = None


@dataclass(slots=True)
class _Lot:
    quantity: Decimal
    cost: Decimal


@dataclass
class Position:
    """One instrument's result, amounts in its quote asset unless named otherwise."""

    symbol: str
    base: str
    quote: str
    quantity: Decimal = _ZERO  # held from these trades
    cost: Decimal = _ZERO  # cost basis of ``quantity``
    realized: Decimal = _ZERO
    bought: Decimal = _ZERO  # base quantity bought (before base fees)
    sold: Decimal = _ZERO
    unmatched_quantity: Decimal = _ZERO  # sold without a recorded cost basis
    fees: dict[str, Decimal] = field(default_factory=dict)  # every fee, by asset
    trades: int = 0

    @property
    def average_cost(self) -> Decimal | None:
        if self.quantity == 0:
            return None
        with localcontext() as ctx:
            ctx.prec = PRECISION
            return self.cost / self.quantity

    def unrealized(self, price: Decimal) -> Decimal:
        """At ``price`` (quote per base) for the quantity held."""
        with localcontext() as ctx:
            ctx.prec = PRECISION
            return self.quantity * price - self.cost


def compute(trades: Iterable[Trade], method: Method) -> dict[str, Position]:
    """Replay ``trades`` (oldest first) into one position per symbol."""
    positions: dict[str, Position] = {}
    lots: dict[str, deque[_Lot]] = {}
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for t in trades:
            base, _, quote = t.symbol.partition("/")
            pos = positions.get(t.symbol)
            if pos is None:
                pos = positions[t.symbol] = Position(t.symbol, base, quote)
                lots[t.symbol] = deque()
            pos.trades += 1
            if t.fee and t.fee_asset:
                pos.fees[t.fee_asset] = pos.fees.get(t.fee_asset, _ZERO) + t.fee
            quote_fee = t.fee if t.fee_asset == quote else _ZERO
            base_fee = t.fee if t.fee_asset == base else _ZERO
            if t.side == "buy":
                pos.bought += t.quantity
                lot = _Lot(t.quantity - base_fee, t.quantity * t.price + quote_fee)
                pos.quantity += lot.quantity
                pos.cost += lot.cost
                if method == "fifo":
                    lots[t.symbol].append(lot)
                continue
            pos.sold += t.quantity
            leaving = t.quantity + base_fee
            proceeds = t.quantity * t.price - quote_fee
            matched = min(leaving, pos.quantity)
            if matched <= 0:
                pos.unmatched_quantity += leaving
                continue
            if method == "fifo":
                consumed = _take_fifo(lots[t.symbol], matched)
            elif matched == pos.quantity:
                consumed = pos.cost  # the whole pool: no rounding residue left behind
            else:
                consumed = pos.cost * matched / pos.quantity
            pos.quantity -= matched
            pos.cost -= consumed
            if matched < leaving:
                pos.unmatched_quantity += leaving - matched
                proceeds = proceeds * matched / leaving
            pos.realized += proceeds - consumed
    return positions


def _take_fifo(queue: deque[_Lot], quantity: Decimal) -> Decimal:
    """Remove ``quantity`` from the oldest lots; the cost removed."""
    cost = _ZERO
    left = quantity
    while left > 0 and queue:
        lot = queue[0]
        if lot.quantity <= left:
            cost += lot.cost
            left -= lot.quantity
            queue.popleft()
        else:
            part = lot.cost * left / lot.quantity
            cost += part
            lot.cost -= part
            lot.quantity -= left
            left = _ZERO
    return cost
