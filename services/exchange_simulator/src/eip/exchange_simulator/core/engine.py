"""The matching engine of one instrument: price-time priority, funds reserved up front.

Rules (exchange-neutral; the dialects translate names and errors):

- Limit-priced buys reserve ``quantity * price`` of the quote asset, sells reserve the base
  quantity; market orders reserve what walking the book costs at the moment they arrive;
  market stops reserve when they trigger (a stop whose funds are gone by then expires).
- A fill moves the reserved funds to the counterparty; the fee is taken from what each side
  receives and credited to the exchange's fee account, so across all accounts trading neither
  creates nor destroys any asset. Leftover reservations are released when an order closes.
- Makers trade at their own price: a taker never gets a price worse than its limit.
- Stops (STOP_LOSS*, TAKE_PROFIT*) wait off-book and trigger on the last trade price.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from eip.exchange_simulator.core.accounts import Account, InsufficientBalance
from eip.exchange_simulator.core.book import Level, OrderBook
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.orders import (
    ExecType,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Rejection,
    Side,
    TimeInForce,
)

ZERO = Decimal(0)
FEE_QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True)
class TradeEvent:
    symbol: str
    trade_id: int
    price: Decimal
    qty: Decimal
    time_ms: int
    buyer_order_id: int
    seller_order_id: int
    taker_side: Side
    taker_order_id: int

    @property
    def buyer_is_maker(self) -> bool:
        return self.taker_side is Side.SELL


@dataclass(frozen=True)
class OrderUpdate:
    order: Order  # a snapshot taken when the change happened
    exec_type: ExecType
    last_fill: Fill | None
    time_ms: int


@dataclass
class Outcome:
    order: Order | None
    level_changes: dict[tuple[Side, Decimal], Decimal] = field(default_factory=dict)
    trades: list[TradeEvent] = field(default_factory=list)
    order_updates: list[OrderUpdate] = field(default_factory=list)
    accounts: set[str] = field(default_factory=set)


class MatchingEngine:
    def __init__(
        self,
        instrument: Instrument,
        accounts: Mapping[str, Account],
        fee_account: Account,
        clock: Callable[[], int],
        next_trade_id: Callable[[], int],
    ) -> None:
        self.instrument = instrument
        self.accounts = accounts
        self.fee_account = fee_account
        self.clock = clock
        self.next_trade_id = next_trade_id
        self.book = OrderBook()
        self.stops: list[Order] = []
        self.open_orders: dict[int, Order] = {}
        self._by_client_id: dict[tuple[str, str], Order] = {}  # open orders only
        self.last_price: Decimal | None = None
        # Accounts whose orders skip the instrument's filters: the market's own liquidity, which
        # replays levels that were valid when placed even if today's filters refuse them.
        self.filter_exempt: set[str] = set()

    # -- public -------------------------------------------------------------------------------

    def submit(self, order: Order) -> Outcome:
        out = Outcome(order)
        now = self.clock()
        order.created_ms = order.updated_ms = now
        self._validate(order)
        out.accounts.add(order.account_id)  # a reservation moves funds from free to locked
        if order.type.is_conditional:
            if self._triggered(order):
                raise Rejection("would_trigger", "Order would trigger immediately.")
            if not (order.side is Side.BUY and not order.type.has_limit_price):
                self._reserve(order)
            self.stops.append(order)
            self._track(order)
            self._update(out, order, ExecType.NEW, None, now)
        else:
            if order.type is OrderType.LIMIT_MAKER and self._crosses(order):
                raise Rejection("would_match", "Order would immediately match and take.")
            self._reserve(order)
            self._update(out, order, ExecType.NEW, None, now)
            self._work(order, out)
        self._trigger_stops(out)
        return out

    def check(self, order: Order) -> None:
        """Everything submit() would refuse up front, without placing (Binance's order/test)."""
        self._validate(order)
        if order.type.is_conditional and self._triggered(order):
            raise Rejection("would_trigger", "Order would trigger immediately.")
        if order.type is OrderType.LIMIT_MAKER and self._crosses(order):
            raise Rejection("would_match", "Order would immediately match and take.")

    def cancel(self, order_id: int) -> Outcome:
        order = self.open_orders.get(order_id)
        if order is None:
            raise Rejection("unknown_order", "Unknown order sent.")
        out = Outcome(order)
        if order in self.stops:
            self.stops.remove(order)
        elif order.is_working and order.price is not None:
            level = self.book.side(order.side).remove(order)
            out.level_changes[(order.side, level.price)] = self._level_total(
                order.side, level.price
            )
        self._close(order, OrderStatus.CANCELED, out)
        return out

    def available(self, side: Side, limit: Decimal | None) -> Decimal:
        """Quantity a taker on ``side`` could fill now at prices no worse than ``limit``."""
        total = ZERO
        for level in self.book.opposite(side).iter_levels():
            if limit is not None and not _price_ok(side, level.price, limit):
                break
            total += level.total
        return total

    # -- validation and reservation -----------------------------------------------------------

    def _validate(self, order: Order) -> None:
        inst = self.instrument
        if inst.status != "TRADING":
            raise Rejection("market_closed", "Market is closed.")
        if order.account_id in self.filter_exempt:
            return
        for price in (order.price, order.stop_price):
            if price is None:
                continue
            if (
                price <= 0
                or (inst.min_price and price < inst.min_price)
                or (inst.max_price and price > inst.max_price)
                or not inst.on_tick(price)
            ):
                raise Rejection("filter", "PRICE_FILTER")
        if order.quantity is not None and (
            order.quantity <= 0
            or order.quantity < inst.min_qty
            or order.quantity > inst.max_qty
            or not inst.on_step(order.quantity)
        ):
            raise Rejection("filter", "LOT_SIZE")
        reference = order.price if order.type.has_limit_price else self._reference_price()
        if reference is not None:
            notional = (
                order.quote_quantity if order.quantity is None else order.quantity * reference
            )
            assert notional is not None
            if notional < inst.min_notional or notional > inst.max_notional:
                raise Rejection("filter", "NOTIONAL")
        if (order.account_id, order.client_order_id) in self._by_client_id:
            raise Rejection("duplicate", "Duplicate order sent.")

    def _reference_price(self) -> Decimal | None:
        if self.last_price is not None:
            return self.last_price
        bid, ask = self.book.bids.best(), self.book.asks.best()
        if bid and ask:
            return (bid.price + ask.price) / 2
        return None

    def _reserve(self, order: Order) -> None:
        inst = self.instrument
        if order.side is Side.BUY:
            asset = inst.quote
            if order.effective_type.has_limit_price:
                assert order.price is not None
                assert order.quantity is not None
                amount = order.quantity * order.price
            elif order.quantity is None:
                assert order.quote_quantity is not None
                amount = order.quote_quantity
            else:
                amount = self._walk_cost(order.side, order.quantity)
        else:
            asset = inst.base
            if order.quantity is not None:
                amount = order.quantity
            else:
                assert order.quote_quantity is not None
                amount = self._walk_base_for_quote(order.quote_quantity)
        try:
            self.accounts[order.account_id].lock(asset, amount)
        except InsufficientBalance:
            raise Rejection(
                "insufficient_balance",
                "Account has insufficient balance for requested action.",
            ) from None
        order.reserved_asset, order.reserved = asset, amount

    def _walk_cost(self, side: Side, qty: Decimal) -> Decimal:
        cost, left = ZERO, qty
        for level in self.book.opposite(side).iter_levels():
            take = min(left, level.total)
            cost += take * level.price
            left -= take
            if left <= 0:
                break
        return cost

    def _walk_base_for_quote(self, quote: Decimal) -> Decimal:
        base, left = ZERO, quote
        for level in self.book.bids.iter_levels():
            take = min(level.total, self.instrument.floor_qty(left / level.price))
            base += take
            left -= take * level.price
            if take < level.total:
                break
        return base

    # -- matching -----------------------------------------------------------------------------

    def _work(self, order: Order, out: Outcome) -> None:
        now = self.clock()
        order.working_ms = now
        order.working_type = order.type.triggered_type if order.type.is_conditional else order.type
        if order.time_in_force is TimeInForce.FOK and order.quantity is not None:
            limit = order.price if order.effective_type.has_limit_price else None
            if self.available(order.side, limit) < order.quantity:
                self._close(order, OrderStatus.EXPIRED, out)
                return
        exhausted = self._match(order, out)
        if order.status is OrderStatus.FILLED:
            self._close(order, OrderStatus.FILLED, out)
        elif order.effective_type is OrderType.MARKET:
            if order.quantity is None and not exhausted and order.executed_qty > 0:
                # A quote-sized order stops when the next step would overspend: that is full.
                order.status = OrderStatus.FILLED
                self._close(order, OrderStatus.FILLED, out)
            else:
                self._close(order, OrderStatus.EXPIRED, out)
        elif order.time_in_force is TimeInForce.IOC:
            self._close(order, OrderStatus.EXPIRED, out)
        else:
            level = self.book.side(order.side).add(order)
            out.level_changes[(order.side, level.price)] = level.total
            self._track(order)

    def _match(self, taker: Order, out: Outcome) -> bool:
        """Fill the taker against the opposite side; True when the book ran out first."""
        opposite = self.book.opposite(taker.side)
        limit = taker.price if taker.effective_type.has_limit_price else None
        while True:
            level = opposite.best()
            if level is None:
                return True
            if limit is not None and not _price_ok(taker.side, level.price, limit):
                return False
            maker = level.orders[0]
            if taker.quantity is not None:
                qty = min(taker.remaining, maker.remaining)
            else:
                assert taker.quote_quantity is not None
                left = taker.quote_quantity - taker.cumulative_quote
                qty = min(maker.remaining, self.instrument.floor_qty(left / level.price))
            if qty <= 0:
                return False
            self._execute(maker, taker, level, qty, out)
            if taker.status is OrderStatus.FILLED:
                return False

    def _execute(
        self, maker: Order, taker: Order, level: Level, qty: Decimal, out: Outcome
    ) -> None:
        inst, now, price = self.instrument, self.clock(), level.price
        quote = qty * price
        buyer, seller = (taker, maker) if taker.side is Side.BUY else (maker, taker)
        self._pay(buyer, inst.quote, quote)
        self._pay(seller, inst.base, qty)
        trade_id = self.next_trade_id()
        buyer_fee = self._fee(buyer, qty, maker is buyer)
        seller_fee = self._fee(seller, quote, maker is seller)
        self.accounts[buyer.account_id].credit(inst.base, qty - buyer_fee)
        self.accounts[seller.account_id].credit(inst.quote, quote - seller_fee)
        self.fee_account.credit(inst.base, buyer_fee)
        self.fee_account.credit(inst.quote, seller_fee)
        for order, fee, asset in ((buyer, buyer_fee, inst.base), (seller, seller_fee, inst.quote)):
            order.executed_qty += qty
            order.cumulative_quote += quote
            order.updated_ms = now
            if order.quantity is not None and order.remaining == 0:
                order.status = OrderStatus.FILLED
            else:
                order.status = OrderStatus.PARTIALLY_FILLED
            fill = Fill(trade_id, price, qty, fee, asset, order is maker, now)
            order.fills.append(fill)
            out.accounts.add(order.account_id)
        self.book.opposite(taker.side).reduce(level, qty)
        self.book.opposite(taker.side).pop_front_if_done(level)
        out.level_changes[(maker.side, price)] = self._level_total(maker.side, price)
        self.last_price = price
        out.trades.append(
            TradeEvent(
                inst.symbol,
                trade_id,
                price,
                qty,
                now,
                buyer.order_id,
                seller.order_id,
                taker.side,
                taker.order_id,
            )
        )
        self._update(out, maker, ExecType.TRADE, maker.fills[-1], now)
        self._update(out, taker, ExecType.TRADE, taker.fills[-1], now)
        if maker.status is OrderStatus.FILLED:
            self._close(maker, OrderStatus.FILLED, out)

    def _pay(self, order: Order, asset: str, amount: Decimal) -> None:
        account = self.accounts[order.account_id]
        if order.reserved_asset == asset and order.reserved >= amount:
            account.spend_locked(asset, amount)
            order.reserved -= amount
        else:  # cannot happen while reservations are right; fail loudly rather than go negative
            raise AssertionError(f"order {order.order_id} pays {amount} {asset} without reserve")

    def _fee(self, order: Order, amount: Decimal, is_maker: bool) -> Decimal:
        account = self.accounts[order.account_id]
        rate = account.maker_fee if is_maker else account.taker_fee
        if rate is None:
            rate = self.instrument.maker_fee if is_maker else self.instrument.taker_fee
        return (amount * rate).quantize(FEE_QUANTUM, rounding=ROUND_DOWN)

    def _close(self, order: Order, status: OrderStatus, out: Outcome) -> None:
        now = self.clock()
        order.status = status
        order.updated_ms = now
        self._untrack(order)
        if order.reserved > 0:
            self.accounts[order.account_id].unlock(order.reserved_asset, order.reserved)
            order.reserved = ZERO
        out.accounts.add(order.account_id)
        if status is OrderStatus.CANCELED:
            self._update(out, order, ExecType.CANCELED, None, now)
        elif status is OrderStatus.EXPIRED:
            self._update(out, order, ExecType.EXPIRED, None, now)

    # -- stops ---------------------------------------------------------------------------------

    def _triggered(self, order: Order) -> bool:
        last, stop = self.last_price, order.stop_price
        if last is None or stop is None:
            return False
        rises = order.type in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)
        if order.side is Side.SELL:
            rises = not rises
        return last >= stop if rises else last <= stop

    def _trigger_stops(self, out: Outcome) -> None:
        while True:
            fired = [s for s in self.stops if self._triggered(s)]
            if not fired:
                return
            for stop in fired:
                self.stops.remove(stop)
                self._untrack(stop)
                stop.working_type = stop.type.triggered_type
                if stop.reserved_asset == "":
                    try:
                        self._reserve(stop)
                    except Rejection:
                        self._close(stop, OrderStatus.EXPIRED, out)
                        continue
                self._work(stop, out)

    def _track(self, order: Order) -> None:
        self.open_orders[order.order_id] = order
        self._by_client_id[(order.account_id, order.client_order_id)] = order

    def _untrack(self, order: Order) -> None:
        if self.open_orders.pop(order.order_id, None) is not None:
            self._by_client_id.pop((order.account_id, order.client_order_id), None)

    # -- helpers -------------------------------------------------------------------------------

    def _crosses(self, order: Order) -> bool:
        best = self.book.opposite(order.side).best()
        return (
            best is not None
            and order.price is not None
            and _price_ok(
                order.side,
                best.price,
                order.price,
            )
        )

    def _level_total(self, side: Side, price: Decimal) -> Decimal:
        level = self.book.side(side).levels.get(price)
        return level.total if level is not None else ZERO

    def _update(
        self,
        out: Outcome,
        order: Order,
        exec_type: ExecType,
        fill: Fill | None,
        now: int,
    ) -> None:
        out.order_updates.append(OrderUpdate(copy.copy(order), exec_type, fill, now))


def _price_ok(taker_side: Side, book_price: Decimal, limit: Decimal) -> bool:
    """Whether a taker on ``taker_side`` with ``limit`` accepts ``book_price``."""
    return book_price <= limit if taker_side is Side.BUY else book_price >= limit
