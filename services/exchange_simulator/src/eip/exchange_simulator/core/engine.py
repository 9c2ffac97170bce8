"""The matching engine of one instrument: price-time priority, funds reserved up front.

Rules (exchange-neutral; the dialects translate names and errors):

- Limit-priced buys reserve ``quantity * price`` of the quote asset, sells reserve the base
  quantity; market orders reserve what walking the book costs at the moment they arrive;
  market stops reserve when they trigger (a stop whose funds are gone by then expires), as do
  buy trailing stop-limits whose limit price is only known then.
- A fill moves the reserved funds to the counterparty; the fee is taken from what each side
  receives and credited to the exchange's fee account, so across all accounts trading neither
  creates nor destroys any asset. Leftover reservations are released when an order closes.
- Makers trade at their own price: a taker never gets a price worse than its limit.
- Stops (STOP_LOSS*, TAKE_PROFIT*) wait off-book and trigger on the last trade price. Trailing
  stops (``core/trailing.py``) follow every trade price and trigger once it comes back by their
  offset from the extreme since activation.
- Self-trade prevention: when the next resting order in a taker's way belongs to the same
  account, the taker's mode decides (expire the taker, the maker, or both); nothing trades.
  Walking the book for a market order's reservation or a FOK check sees the book the same way.
- Order lists (OCO): the legs share one quantity and one reservation (the largest any leg
  needs, held by one leg). The first leg to execute, even partly, or to trigger expires the
  others before it works; cancelling a leg cancels the list. So the list never fills more than
  its quantity, and locked funds stay equal to what open orders hold.
- Amendments change an open order in place (same id): quantity (never below what executed),
  price, trigger, client id. The reservation is set to exactly what the amended order needs;
  whether it keeps its place in the queue is the caller's ``AmendPriority``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import Enum

from eip.exchange_simulator.core.accounts import Account, InsufficientBalance
from eip.exchange_simulator.core.book import Level, OrderBook
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.orders import (
    AmendPriority,
    ExecType,
    ExpiryReason,
    Fill,
    ListChange,
    ListStatus,
    Order,
    OrderList,
    OrderStatus,
    OrderType,
    Rejection,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from eip.exchange_simulator.core.trailing import follow

ZERO = Decimal(0)
FEE_QUANTUM = Decimal("0.00000001")
STP = SelfTradePrevention


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


@dataclass(frozen=True)
class ListUpdate:
    order_list: OrderList  # a snapshot (its legs too) taken when the change happened
    change: ListChange
    time_ms: int


@dataclass
class Outcome:
    order: Order | None
    level_changes: dict[tuple[Side, Decimal], Decimal] = field(default_factory=dict)
    trades: list[TradeEvent] = field(default_factory=list)
    order_updates: list[OrderUpdate] = field(default_factory=list)
    list_updates: list[ListUpdate] = field(default_factory=list)
    accounts: set[str] = field(default_factory=set)


class _MatchEnd(Enum):
    BOOK_EMPTY = "book_empty"
    LIMIT = "limit"  # the next level is beyond the limit (or the next step would overspend)
    FILLED = "filled"
    SELF_TRADE = "self_trade"  # the taker expired by self-trade prevention


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
        self.lists: dict[int, OrderList] = {}  # lists with an open leg
        self._resolved_lists: set[int] = set()  # one leg has executed or triggered
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
        self._check_entry(order)
        out.accounts.add(order.account_id)  # a reservation moves funds from free to locked
        if order.type.is_conditional:
            if self._reserves_on_entry(order):
                self._reserve(order)
            self._wait(order)
            self._update(out, order, ExecType.NEW, None, now)
        else:
            self._reserve(order)
            self._update(out, order, ExecType.NEW, None, now)
            self._work(order, out)
        self._trigger_stops(out)
        return out

    def submit_list(self, order_list: OrderList) -> Outcome:
        """Place every leg of ``order_list`` or none (each is validated first)."""
        out = Outcome(None)
        now = self.clock()
        order_list.created_ms = order_list.updated_ms = now
        legs = order_list.orders
        for leg in legs:
            leg.created_ms = leg.updated_ms = now
            leg.list_id = order_list.list_id
        self._validate_list(order_list)
        out.accounts.add(order_list.account_id)
        self._reserve_list(legs)
        self.lists[order_list.list_id] = order_list
        for leg in legs:  # triggers first: a leg that executes at once must find its siblings
            if leg.type.is_conditional:
                self._wait(leg)
        for leg in legs:
            self._update(out, leg, ExecType.NEW, None, now)
        self._list_update(out, order_list, ListChange.CREATED, now)
        for leg in legs:
            if not leg.type.is_conditional and leg.status.is_open:
                self._work(leg, out)
        self._trigger_stops(out)
        return out

    def check(self, order: Order) -> None:
        """Everything submit() would refuse up front, without placing (Binance's order/test)."""
        self._validate(order)
        self._check_entry(order)

    def cancel(self, order_id: int) -> Outcome:
        """Cancel an open order; a leg of a list cancels the whole list."""
        order = self.open_orders.get(order_id)
        if order is None:
            raise Rejection("unknown_order", "Unknown order sent.")
        out = Outcome(order)
        listed = self.lists.get(order.list_id) if order.list_id is not None else None
        self._cancel_orders(listed.orders if listed else [order], out)
        return out

    def cancel_list(self, list_id: int) -> Outcome:
        order_list = self.lists.get(list_id)
        if order_list is None:
            raise Rejection("unknown_list", "Order list does not exist.")
        out = Outcome(None)
        self._cancel_orders(order_list.orders, out)
        return out

    def amend(
        self,
        order_id: int,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        client_order_id: str | None = None,
        priority: AmendPriority = AmendPriority.KEEP_ON_DECREASE,
    ) -> Outcome:
        """Change an open order in place; everything is checked before anything changes.

        ``quantity`` is the new total (executed part included): below the executed quantity is
        refused, equal to it fills the order. On a leg of a list it changes every open leg.
        ``price`` re-prices a limit-priced order (a plain limit that now crosses trades as a
        taker; a post-only one is refused), ``stop_price`` moves a waiting stop's trigger."""
        order = self.open_orders.get(order_id)
        if order is None:
            raise Rejection("unknown_order", "Unknown order sent.")
        order_list = self.lists.get(order.list_id) if order.list_id is not None else None
        # Until a leg executes or triggers, the legs share the quantity and the reservation.
        shared = order_list is not None and order_list.list_id not in self._resolved_lists
        legs = [order]
        if order_list is not None and shared:
            legs = [o for o in order_list.orders if o.status.is_open]
        changed = legs if quantity is not None else [order]
        after = {
            o.order_id: self._amended(o, o is order, quantity, price, stop_price) for o in legs
        }
        target = after[order.order_id]
        if client_order_id is not None:
            target.client_order_id = client_order_id
            taken = self._by_client_id.get((order.account_id, client_order_id))
            if taken is not None and taken is not order:
                raise Rejection("duplicate", "Duplicate order sent.")
        for leg in changed:
            self._validate(after[leg.order_id], check_duplicate=False)
        if stop_price is not None:
            self._check_entry(target)
        crosses = price is not None and self._crosses(target)
        if crosses and target.effective_type is OrderType.LIMIT_MAKER:
            raise Rejection("would_match", "Order would immediately match and take.")
        holder = next((o for o in legs if o.reserved_asset), None)
        delta = ZERO
        if holder is not None:
            needed = max(
                self._remaining_reservation(after[o.order_id])
                for o in legs
                if o is holder or o.is_working or self._reserves_on_entry(o)
            )
            delta = needed - holder.reserved
            if delta > 0:
                self._lock_more(holder, delta)
        # Nothing is refused past this point.
        out = Outcome(order)
        out.accounts.add(order.account_id)
        now = self.clock()
        requeue = self._leave_or_shrink(changed, after, priority, out)
        if client_order_id is not None:
            self._by_client_id.pop((order.account_id, order.client_order_id), None)
            self._by_client_id[(order.account_id, client_order_id)] = order
        for leg in changed:
            new = after[leg.order_id]
            leg.quantity, leg.price, leg.stop_price = new.quantity, new.price, new.stop_price
            leg.client_order_id = new.client_order_id
            leg.updated_ms = now
            leg.amendments += 1
        if holder is not None:
            holder.reserved += delta
            if delta < 0:
                self.accounts[holder.account_id].unlock(holder.reserved_asset, -delta)
        if order_list is not None and quantity is not None and shared:
            order_list.quantity = quantity
        for leg in changed:
            self._update(out, leg, ExecType.REPLACED, None, now)
            if leg.remaining == 0:
                leg.status = OrderStatus.FILLED
                self._close(leg, OrderStatus.FILLED, out)
            elif leg.order_id in requeue:
                self._rest_or_take(leg, out)
        if order_list is not None and order_list.list_id in self.lists:
            order_list.updated_ms = now
            self._list_update(out, order_list, ListChange.UPDATED, now)
        self._trigger_stops(out)
        return out

    def observe_trade(self, price: Decimal) -> Outcome:
        """A trade printed outside this book (a replayed recording): the last price moves and
        stops follow it as they follow the book's own trades."""
        out = Outcome(None)
        self._observe(price)
        self._trigger_stops(out)
        return out

    def available(
        self,
        side: Side,
        limit: Decimal | None,
        account_id: str = "",
        stp: SelfTradePrevention = STP.NONE,
    ) -> Decimal:
        """Quantity a taker on ``side`` could fill now at prices no worse than ``limit`` (with
        self-trade prevention, as ``account_id``'s order in ``stp`` mode would see the book)."""
        total = ZERO
        for price, qty in self._liquidity(side, account_id, stp):
            if limit is not None and not _price_ok(side, price, limit):
                break
            total += qty
        return total

    # -- validation and reservation -----------------------------------------------------------

    def _validate(self, order: Order, check_duplicate: bool = True) -> None:
        inst = self.instrument
        if inst.status != "TRADING":
            raise Rejection("market_closed", "Market is closed.")
        self._check_shape(order)
        if order.account_id in self.filter_exempt:
            return
        activation = order.trailing.activation_price if order.trailing else None
        for price in (order.price, order.stop_price, activation):
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
        priced = order.type.has_limit_price and order.price is not None
        reference = order.price if priced else self._reference_price()
        if reference is not None:
            notional = (
                order.quote_quantity if order.quantity is None else order.quantity * reference
            )
            assert notional is not None
            if notional < inst.min_notional or notional > inst.max_notional:
                raise Rejection("filter", "NOTIONAL")
        if check_duplicate and (order.account_id, order.client_order_id) in self._by_client_id:
            raise Rejection("duplicate", "Duplicate order sent.")

    def _check_shape(self, order: Order) -> None:
        """What a dialect should never send; refused rather than trusted."""
        trailing = order.trailing
        if trailing is None:
            if order.type.is_conditional and order.stop_price is None:
                raise Rejection("invalid", "A stop order needs a stop price.")
            if order.type.has_limit_price and order.price is None:
                raise Rejection("invalid", "A limit order needs a price.")
            return
        if not order.type.is_conditional:
            raise Rejection("invalid", "Only stop orders can trail.")
        if trailing.offset.amount <= 0:
            raise Rejection("invalid", "A trailing offset must be positive.")
        if order.stop_price is not None:
            raise Rejection("invalid", "A trailing stop's trigger is its offset, not a stop price.")
        if trailing.limit_offset is not None and not order.type.has_limit_price:
            raise Rejection("invalid", "Only a stop-limit order takes a limit offset.")
        if order.type.has_limit_price and (order.price is None) == (trailing.limit_offset is None):
            raise Rejection("invalid", "A trailing stop-limit needs a price or a limit offset.")

    def _check_entry(self, order: Order) -> None:
        """Refuse what would act at once though it must wait: a stop already reached, a
        post-only order that would take."""
        if order.type.is_conditional:
            level = order.trailing.activation_price if order.trailing else order.stop_price
            last = self.last_price
            if level is not None and last is not None and _reached(order, last, level):
                raise Rejection("would_trigger", "Order would trigger immediately.")
        elif order.type is OrderType.LIMIT_MAKER and self._crosses(order):
            raise Rejection("would_match", "Order would immediately match and take.")

    def _reference_price(self) -> Decimal | None:
        if self.last_price is not None:
            return self.last_price
        bid, ask = self.book.bids.best(), self.book.asks.best()
        if bid and ask:
            return (bid.price + ask.price) / 2
        return None

    def _reserves_on_entry(self, order: Order) -> bool:
        """Whether a waiting stop reserves when placed (else when it triggers): sells always;
        buys only when their limit price is already known."""
        return order.side is Side.SELL or (order.type.has_limit_price and order.price is not None)

    def _requirement(self, order: Order) -> tuple[str, Decimal]:
        """What ``order`` locks as it stands now: asset and amount."""
        inst = self.instrument
        if order.side is Side.BUY:
            if order.effective_type.has_limit_price:
                assert order.price is not None
                assert order.quantity is not None
                return inst.quote, order.quantity * order.price
            if order.quantity is None:
                assert order.quote_quantity is not None
                return inst.quote, order.quote_quantity
            return inst.quote, self._walk_cost(order)
        if order.quantity is not None:
            return inst.base, order.quantity
        assert order.quote_quantity is not None
        return inst.base, self._walk_base_for_quote(order)

    def _remaining_reservation(self, order: Order) -> Decimal:
        """What an open order with a reservation needs for what is left of it."""
        remaining = order.remaining
        if order.side is Side.SELL:
            return remaining
        assert order.price is not None
        return remaining * order.price

    def _reserve(self, order: Order) -> None:
        asset, amount = self._requirement(order)
        self._lock(order, asset, amount)

    def _lock(self, order: Order, asset: str, amount: Decimal) -> None:
        try:
            self.accounts[order.account_id].lock(asset, amount)
        except InsufficientBalance:
            raise Rejection(
                "insufficient_balance",
                "Account has insufficient balance for requested action.",
            ) from None
        order.reserved_asset, order.reserved = asset, amount

    def _lock_more(self, order: Order, amount: Decimal) -> None:
        try:
            self.accounts[order.account_id].lock(order.reserved_asset, amount)
        except InsufficientBalance:
            raise Rejection(
                "insufficient_balance",
                "Account has insufficient balance for requested action.",
            ) from None

    def _liquidity(
        self, taker_side: Side, account_id: str, stp: SelfTradePrevention
    ) -> Iterator[tuple[Decimal, Decimal]]:
        """(price, quantity) a taker would meet, in order: per level, or per resting order when
        self-trade prevention skips the account's own orders (EXPIRE_MAKER) or stops at the
        first of them (EXPIRE_TAKER, EXPIRE_BOTH)."""
        for level in self.book.opposite(taker_side).iter_levels():
            if stp is STP.NONE:
                yield level.price, level.total
                continue
            for maker in level.orders:
                if maker.account_id == account_id:
                    if stp is STP.EXPIRE_MAKER:
                        continue
                    return
                yield level.price, maker.remaining

    def _liquidity_for(self, order: Order) -> Iterator[tuple[Decimal, Decimal]]:
        return self._liquidity(order.side, order.account_id, order.self_trade_prevention)

    def _walk_cost(self, order: Order) -> Decimal:
        assert order.quantity is not None
        cost, left = ZERO, order.quantity
        for price, qty in self._liquidity_for(order):
            take = min(left, qty)
            cost += take * price
            left -= take
            if left <= 0:
                break
        return cost

    def _walk_base_for_quote(self, order: Order) -> Decimal:
        assert order.quote_quantity is not None
        base, left = ZERO, order.quote_quantity
        for price, qty in self._liquidity_for(order):
            take = min(qty, self.instrument.floor_qty(left / price))
            base += take
            left -= take * price
            if take < qty:
                break
        return base

    # -- matching -----------------------------------------------------------------------------

    def _work(self, order: Order, out: Outcome) -> None:
        order.working_ms = self.clock()
        order.working_type = order.type.triggered_type if order.type.is_conditional else order.type
        if order.time_in_force is TimeInForce.FOK and order.quantity is not None:
            limit = order.price if order.effective_type.has_limit_price else None
            reachable = self.available(
                order.side, limit, order.account_id, order.self_trade_prevention
            )
            if reachable < order.quantity:
                self._close(order, OrderStatus.EXPIRED, out)
                return
        self._rest_or_take(order, out)

    def _rest_or_take(self, order: Order, out: Outcome) -> None:
        """Match a working order against the book, then rest what is left or close it."""
        end = self._match(order, out)
        if order.status is OrderStatus.FILLED:
            self._close(order, OrderStatus.FILLED, out)
        elif end is _MatchEnd.SELF_TRADE:
            self._close(order, OrderStatus.EXPIRED, out)
        elif order.effective_type is OrderType.MARKET:
            if order.quantity is None and end is _MatchEnd.LIMIT and order.executed_qty > 0:
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

    def _match(self, taker: Order, out: Outcome) -> _MatchEnd:
        """Fill the taker against the opposite side until something stops it."""
        opposite = self.book.opposite(taker.side)
        limit = taker.price if taker.effective_type.has_limit_price else None
        stp = taker.self_trade_prevention
        while True:
            level = opposite.best()
            if level is None:
                return _MatchEnd.BOOK_EMPTY
            if limit is not None and not _price_ok(taker.side, level.price, limit):
                return _MatchEnd.LIMIT
            maker = level.orders[0]
            if stp is not STP.NONE and maker.account_id == taker.account_id:
                if stp in (STP.EXPIRE_MAKER, STP.EXPIRE_BOTH):
                    self._prevent(maker, out)
                if stp in (STP.EXPIRE_TAKER, STP.EXPIRE_BOTH):
                    taker.prevented_qty += taker.remaining
                    taker.expiry_reason = ExpiryReason.SELF_TRADE
                    return _MatchEnd.SELF_TRADE
                continue
            if taker.quantity is not None:
                qty = min(taker.remaining, maker.remaining)
            else:
                assert taker.quote_quantity is not None
                left = taker.quote_quantity - taker.cumulative_quote
                qty = min(maker.remaining, self.instrument.floor_qty(left / level.price))
            if qty <= 0:
                return _MatchEnd.LIMIT
            self._execute(maker, taker, level, qty, out)
            if taker.status is OrderStatus.FILLED:
                return _MatchEnd.FILLED

    def _prevent(self, maker: Order, out: Outcome) -> None:
        """Self-trade prevention expires a resting order."""
        level = self.book.side(maker.side).remove(maker)
        out.level_changes[(maker.side, level.price)] = self._level_total(maker.side, level.price)
        maker.prevented_qty += maker.remaining
        maker.expiry_reason = ExpiryReason.SELF_TRADE
        self._close(maker, OrderStatus.EXPIRED, out)

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
        self._observe(price)
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
        for order in (maker, taker):
            if order.list_id is not None:
                self._contingency(order, out)
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
        if order.list_id is not None:
            self._contingency(order, out)
            self._list_progress(order, out)

    def _withdraw(self, order: Order, out: Outcome) -> None:
        """Take an open order off the book or out of the waiting stops."""
        if order in self.stops:
            self.stops.remove(order)
            return
        if not order.is_working or order.price is None:
            return
        side = self.book.side(order.side)
        level = side.levels.get(order.price)
        if level is not None and order in level.orders:
            side.remove(order)
            out.level_changes[(order.side, order.price)] = self._level_total(
                order.side, order.price
            )

    def _cancel_orders(self, orders: list[Order], out: Outcome) -> None:
        for order in orders:  # a cancel is not an execution: no leg expires its siblings
            if order.list_id is not None:
                self._resolved_lists.add(order.list_id)
        for order in orders:
            if order.status.is_open and order.order_id in self.open_orders:
                self._withdraw(order, out)
                self._close(order, OrderStatus.CANCELED, out)

    # -- stops ---------------------------------------------------------------------------------

    def _wait(self, order: Order) -> None:
        """A stop goes off-book until it triggers; a trailing one without an activation price is
        active from the last trade price on."""
        if order.trailing is not None and order.trailing.activation_price is None:
            order.trail_extreme = self.last_price
        self.stops.append(order)
        self._track(order)

    def _observe(self, price: Decimal) -> None:
        """Every trade price: the last price, and what trailing stops follow."""
        self.last_price = price
        for stop in self.stops:
            trailing = stop.trailing
            if trailing is None or stop.trail_fired:
                continue
            if stop.trail_extreme is None:
                activation = trailing.activation_price
                if activation is None or _reached(stop, price, activation):
                    stop.trail_extreme = price
                continue
            stop.trail_extreme, stop.trail_fired = follow(
                stop.side.value, trailing, stop.trail_extreme, price
            )

    def _triggered(self, order: Order) -> bool:
        if order.trailing is not None:
            return order.trail_fired
        last, stop = self.last_price, order.stop_price
        return last is not None and stop is not None and _reached(order, last, stop)

    def _trigger_stops(self, out: Outcome) -> None:
        while True:
            fired = [s for s in self.stops if self._triggered(s)]
            if not fired:
                return
            for stop in fired:
                if stop not in self.stops:
                    continue  # expired meanwhile: a sibling of its list triggered first
                self.stops.remove(stop)
                self._untrack(stop)
                stop.working_type = stop.type.triggered_type
                if stop.list_id is not None:
                    self._contingency(stop, out)
                if stop.price is None and stop.working_type is OrderType.LIMIT:
                    stop.price = self._trailing_limit_price(stop)
                    if stop.price is None:
                        self._close(stop, OrderStatus.EXPIRED, out)
                        continue
                if stop.reserved_asset == "":
                    try:
                        self._reserve(stop)
                    except Rejection:
                        self._close(stop, OrderStatus.EXPIRED, out)
                        continue
                self._work(stop, out)

    def _trailing_limit_price(self, stop: Order) -> Decimal | None:
        """A trailing stop-limit priced at trigger: its trigger level moved by its limit
        offset, to the tick; None when that is no price at all."""
        assert stop.trailing is not None
        level = stop.trigger_price
        assert level is not None
        raw = stop.trailing.limit_price(level)
        if raw is None:
            return None
        price = self.instrument.round_price(raw)
        return price if price > 0 else None

    def _track(self, order: Order) -> None:
        self.open_orders[order.order_id] = order
        self._by_client_id[(order.account_id, order.client_order_id)] = order

    def _untrack(self, order: Order) -> None:
        if self.open_orders.pop(order.order_id, None) is not None:
            self._by_client_id.pop((order.account_id, order.client_order_id), None)

    # -- order lists ---------------------------------------------------------------------------

    def _validate_list(self, order_list: OrderList) -> None:
        legs = order_list.orders
        if len(legs) != 2:
            raise Rejection("invalid_list", "An order list has exactly two orders.")
        first = legs[0]
        for leg in legs:
            if leg.type is OrderType.MARKET:
                raise Rejection("invalid_list", "A market order cannot be part of an order list.")
            if (leg.account_id, leg.symbol, leg.side) != (
                first.account_id,
                first.symbol,
                first.side,
            ):
                raise Rejection("invalid_list", "The orders of a list share account, symbol, side.")
            if leg.quantity != order_list.quantity:
                raise Rejection("invalid_list", "The orders of a list share one quantity.")
        if len({leg.client_order_id for leg in legs}) != len(legs):
            raise Rejection("duplicate", "Duplicate order sent.")
        for leg in legs:
            self._validate(leg)
            self._check_entry(leg)

    def _reserve_list(self, legs: list[Order]) -> None:
        """One reservation for the list, the largest any leg needs now, held by the leg that
        works first (the one on the book); legs that reserve at trigger need none now."""
        needs = [
            (leg, self._requirement(leg))
            for leg in legs
            if not leg.type.is_conditional or self._reserves_on_entry(leg)
        ]
        if not needs:
            return
        asset = needs[0][1][0]
        amount = max(amount for _, (_, amount) in needs)
        holder = next((leg for leg, _ in needs if not leg.type.is_conditional), needs[0][0])
        self._lock(holder, asset, amount)

    def _contingency(self, order: Order, out: Outcome) -> None:
        """``order`` executed, triggered or ended: the other open legs of its list expire."""
        assert order.list_id is not None
        order_list = self.lists.get(order.list_id)
        if order_list is None or order_list.list_id in self._resolved_lists:
            return
        self._resolved_lists.add(order_list.list_id)
        for leg in order_list.orders:
            if leg is not order and leg.status.is_open and leg.order_id in self.open_orders:
                self._withdraw(leg, out)
                leg.expiry_reason = ExpiryReason.CONTINGENCY
                self._close(leg, OrderStatus.EXPIRED, out)

    def _list_progress(self, order: Order, out: Outcome) -> None:
        assert order.list_id is not None
        order_list = self.lists.get(order.list_id)
        if order_list is None or any(leg.status.is_open for leg in order_list.orders):
            return
        del self.lists[order_list.list_id]
        self._resolved_lists.discard(order_list.list_id)
        now = self.clock()
        order_list.status = ListStatus.ALL_DONE
        order_list.updated_ms = now
        self._list_update(out, order_list, ListChange.DONE, now)

    def _list_update(
        self, out: Outcome, order_list: OrderList, change: ListChange, now: int
    ) -> None:
        snapshot = dataclasses.replace(
            order_list, orders=[copy.copy(leg) for leg in order_list.orders]
        )
        out.list_updates.append(ListUpdate(snapshot, change, now))

    # -- amendments ----------------------------------------------------------------------------

    def _amended(
        self,
        leg: Order,
        is_target: bool,
        quantity: Decimal | None,
        price: Decimal | None,
        stop_price: Decimal | None,
    ) -> Order:
        """A copy of ``leg`` as the amendment would leave it, checked for what cannot change."""
        new = copy.copy(leg)
        if quantity is not None:
            if leg.quantity is None:
                raise Rejection("invalid_amend", "A quote-sized order has no quantity to amend.")
            if quantity < leg.executed_qty:
                raise Rejection(
                    "quantity_below_executed", "The new quantity is below the executed quantity."
                )
            new.quantity = quantity
        if not is_target:
            return new
        if price is not None:
            if not leg.effective_type.has_limit_price or leg.price is None:
                raise Rejection("invalid_amend", "The order has no limit price to amend.")
            new.price = price
        if stop_price is not None:
            if not leg.type.is_conditional or leg.is_working or leg.trailing is not None:
                raise Rejection("invalid_amend", "The order has no stop price to amend.")
            new.stop_price = stop_price
        return new

    def _leave_or_shrink(
        self,
        changed: list[Order],
        after: dict[int, Order],
        priority: AmendPriority,
        out: Outcome,
    ) -> set[int]:
        """Adjust resting legs in the book before their fields change (level totals count the
        old remainder): a leg keeping its place shrinks where it stands; one losing it (or
        filled by the amendment) leaves the book. Returns the ids that go back in."""
        requeue: set[int] = set()
        for leg in changed:
            side = self.book.side(leg.side)
            level = side.levels.get(leg.price) if leg.price is not None else None
            if not leg.is_working or level is None or leg not in level.orders:
                continue
            new = after[leg.order_id]
            keeps = (
                priority is AmendPriority.KEEP_ON_DECREASE
                and new.price == leg.price
                and new.remaining <= leg.remaining
            )
            if keeps and new.remaining > 0:
                side.reduce(level, leg.remaining - new.remaining)
            else:
                side.remove(leg)
                if new.remaining > 0:
                    requeue.add(leg.order_id)
            out.level_changes[(leg.side, level.price)] = self._level_total(leg.side, level.price)
        return requeue

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


def _reached(order: Order, price: Decimal, level: Decimal) -> bool:
    """Whether a trade at ``price`` reaches a stop ``level`` of ``order``'s type and side: a
    buy stop-loss and a sell take-profit wait for the price to rise to it, the others to fall."""
    rises = order.type in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)
    if order.side is Side.SELL:
        rises = not rises
    return price >= level if rises else price <= level
