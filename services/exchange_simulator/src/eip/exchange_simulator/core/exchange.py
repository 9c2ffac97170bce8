"""The exchange: instruments, one engine each, accounts and keys, ids, the clock, history, and
the fan-out of everything that happens to the dialects' streams.

The dialects' trading API is here, in the core's vocabulary: ``place`` (``OrderRequest``, with
trailing stops and self-trade prevention), ``place_list`` (``ListRequest``: two legs, one
quantity, one-cancels-the-other), ``amend`` (in place, with an ``AmendPriority``), ``cancel``,
``cancel_list`` and the lookups. Listeners hear of every order change (``OrderUpdate``: NEW,
TRADE, CANCELED, EXPIRED, REPLACED for an amendment) and list change (``ListUpdate``).

All state is touched from one asyncio thread, so no locks: every operation runs to completion
before the next starts, which is also what makes book update ids and snapshots consistent.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from eip.exchange_simulator.core.accounts import KEY_PROFILES, Account, ApiKey, Permission
from eip.exchange_simulator.core.candles import TradeHistory
from eip.exchange_simulator.core.engine import (
    ListUpdate,
    MatchingEngine,
    OrderUpdate,
    Outcome,
    TradeEvent,
)
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.key_formats import Venue, new_key
from eip.exchange_simulator.core.orders import (
    AmendPriority,
    ListStatus,
    Order,
    OrderList,
    OrderType,
    Rejection,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from eip.exchange_simulator.core.trailing import Trailing
from eip.exchange_simulator.core.transfers import (
    Transfer,
    TransferKind,
    TransferLedger,
    TransferState,
)

FEE_ACCOUNT = "exchange-fees"


@dataclass(frozen=True)
class BookUpdate:
    """The book changes of one operation, with the update id it was given."""

    symbol: str
    update_id: int
    time_ms: int
    changes: tuple[tuple[Side, Decimal, Decimal], ...]  # side, price, new total (0 = gone)


@dataclass(frozen=True)
class BalanceChange:
    account_id: str
    time_ms: int
    balances: tuple[tuple[str, Decimal, Decimal], ...]  # asset, free, locked


@dataclass
class Listeners:
    book: list[Callable[[BookUpdate], None]] = field(default_factory=list)
    trade: list[Callable[[TradeEvent], None]] = field(default_factory=list)
    order: list[Callable[[str, OrderUpdate], None]] = field(default_factory=list)
    order_list: list[Callable[[str, ListUpdate], None]] = field(default_factory=list)
    balance: list[Callable[[BalanceChange], None]] = field(default_factory=list)


@dataclass
class OrderRequest:
    account_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    quote_quantity: Decimal | None = None
    time_in_force: TimeInForce | None = None
    client_order_id: str | None = None
    trailing: Trailing | None = None  # a trailing stop (the type must be a stop type)
    # The dialect passes its venue's default (Binance: the symbol's defaultSelfTradePrevention).
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.NONE


@dataclass
class ListRequest:
    """An OCO: two legs of one account, symbol and side with the same quantity (e.g. a
    LIMIT_MAKER above the market and a STOP_LOSS_LIMIT below it, for a sell)."""

    legs: list[OrderRequest]
    client_list_id: str | None = None


def _new_client_id() -> str:
    return secrets.token_urlsafe(16)[:22]


class Exchange:
    def __init__(self, instruments: Iterable[Instrument], clock: Callable[[], float] = time.time):
        self._wall = clock
        self.clock_skew_ms = 0
        self.instruments = {i.symbol: i for i in instruments}
        self.accounts: dict[str, Account] = {FEE_ACCOUNT: Account(FEE_ACCOUNT)}
        self.api_keys: dict[str, ApiKey] = {}
        self._order_ids = itertools.count(1)
        self._list_ids = itertools.count(1)
        self._trade_ids = {s: itertools.count(1) for s in self.instruments}
        self.update_ids = dict.fromkeys(self.instruments, 1)
        self.engines = {
            s: MatchingEngine(
                inst,
                self.accounts,
                self.accounts[FEE_ACCOUNT],
                self.now_ms,
                self._trade_ids[s].__next__,
            )
            for s, inst in self.instruments.items()
        }
        self.history = {s: TradeHistory() for s in self.instruments}
        self.orders: dict[int, Order] = {}  # every order ever accepted, open or closed
        self.lists: dict[int, OrderList] = {}  # every order list ever accepted
        # Accounts whose closed orders are forgotten: the market's own participants place and
        # cancel orders forever, and nobody queries their history.
        self.untracked_accounts: set[str] = set()
        self.listeners = Listeners()
        self.transfers = TransferLedger()

    # -- time ---------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Exchange time: the wall clock plus the skew a test injected."""
        return int(self._wall() * 1000) + self.clock_skew_ms

    # -- accounts and keys ---------------------------------------------------------------------

    def create_account(
        self,
        account_id: str,
        balances: dict[str, Decimal] | None = None,
    ) -> Account:
        if account_id in self.accounts:
            raise ValueError(f"account {account_id!r} exists")
        account = self.accounts[account_id] = Account(account_id, updated_ms=self.now_ms())
        for asset, amount in (balances or {}).items():
            account.deposit(asset, amount)
        return account

    def create_api_key(
        self,
        account_id: str,
        profile: str = "trading",
        ip_allowlist: tuple[str, ...] = (),
        key: str | None = None,
        secret: str | None = None,
        venue: Venue = "binance",
    ) -> ApiKey:
        if account_id not in self.accounts:
            raise ValueError(f"no account {account_id!r}")
        if profile not in KEY_PROFILES:
            raise ValueError(f"profile must be one of {sorted(KEY_PROFILES)}")
        fresh_key, fresh_secret = new_key(venue)
        api_key = ApiKey(
            key or fresh_key,
            secret or fresh_secret,
            account_id,
            KEY_PROFILES[profile],
            tuple(ip_allowlist),
            created_ms=self.now_ms(),
            venue=venue,
        )
        self.api_keys[api_key.key] = api_key
        return api_key

    def revoke_api_key(self, key: str) -> None:
        self.api_keys.pop(key, None)

    def deposit(self, account_id: str, asset: str, amount: Decimal) -> None:
        self.accounts[account_id].deposit(asset, amount)
        self._balances_changed({account_id})

    # -- deposits and withdrawals (core/transfers.py) -------------------------------------------

    def record_transfer(
        self,
        account_id: str,
        kind: TransferKind,
        asset: str,
        amount: Decimal,
        *,
        fee: Decimal = Decimal(0),
        network: str = "",
        address: str = "",
        tx_id: str = "",
        state: TransferState = TransferState.COMPLETED,
        time_ms: int | None = None,
    ) -> Transfer:
        """A deposit or withdrawal in the ledger, its balance moved as ``core/transfers.py``
        says. A withdrawal beyond the free balance raises ``InsufficientBalance``."""
        if amount <= 0 or fee < 0:
            raise ValueError("amount must be positive and fee not negative")
        account = self.accounts[account_id]
        if kind is TransferKind.WITHDRAWAL and state is not TransferState.FAILED:
            account.spend_free(asset, amount + fee)
        transfer = self.transfers.add(
            Transfer(
                self.transfers.new_id(kind),
                account_id,
                kind,
                asset,
                amount,
                fee,
                network or asset,
                address,
                tx_id or secrets.token_hex(32),
                TransferState.PENDING,
                self.now_ms() if time_ms is None else time_ms,
            )
        )
        if kind is TransferKind.WITHDRAWAL and state is TransferState.FAILED:
            transfer.state, transfer.completed_ms = state, transfer.time_ms  # nothing was held
        elif state is not TransferState.PENDING:
            self.settle_transfer(transfer.transfer_id, state)
        elif kind is TransferKind.WITHDRAWAL:
            self._balances_changed({account_id})
        return transfer

    def settle_transfer(self, transfer_id: str, state: TransferState) -> Transfer:
        """A pending transfer completed or failed; its balance moves now."""
        transfer = self.transfers.transfers[transfer_id]
        if transfer.state is not TransferState.PENDING:
            raise ValueError(f"transfer {transfer_id!r} is {transfer.state.value} already")
        account = self.accounts[transfer.account_id]
        if transfer.kind is TransferKind.DEPOSIT and state is TransferState.COMPLETED:
            account.deposit(transfer.asset, transfer.amount)
        elif transfer.kind is TransferKind.WITHDRAWAL and state is TransferState.FAILED:
            account.credit(transfer.asset, transfer.amount + transfer.fee)
        transfer.state = state
        transfer.completed_ms = self.now_ms()
        self._balances_changed({transfer.account_id})
        return transfer

    # -- trading ------------------------------------------------------------------------------

    def engine(self, symbol: str) -> MatchingEngine:
        engine = self.engines.get(symbol)
        if engine is None:
            raise Rejection("unknown_symbol", "Invalid symbol.")
        return engine

    def check(self, request: OrderRequest) -> None:
        """Validate a request as place() would, without placing it."""
        self.engine(request.symbol).check(self._order(request, 0))

    def place(self, request: OrderRequest) -> Order:
        engine = self.engine(request.symbol)
        order = self._order(request, next(self._order_ids))
        outcome = engine.submit(order)
        if order.account_id not in self.untracked_accounts:
            self.orders[order.order_id] = order
        self._publish(request.symbol, outcome)
        return order

    def place_list(self, request: ListRequest) -> OrderList:
        """Place an OCO: both legs or neither (see ``OrderList``)."""
        if not request.legs:
            raise Rejection("invalid_list", "An order list has exactly two orders.")
        symbol = request.legs[0].symbol
        engine = self.engine(symbol)
        legs = [self._order(leg, next(self._order_ids)) for leg in request.legs]
        quantity = legs[0].quantity
        if quantity is None:
            raise Rejection("invalid_list", "The orders of a list share one quantity.")
        order_list = OrderList(
            next(self._list_ids),
            request.client_list_id or _new_client_id(),
            legs[0].account_id,
            symbol,
            quantity,
            legs,
        )
        outcome = engine.submit_list(order_list)
        if order_list.account_id not in self.untracked_accounts:
            self.lists[order_list.list_id] = order_list
            for leg in legs:
                self.orders[leg.order_id] = leg
        self._publish(symbol, outcome)
        return order_list

    def amend(
        self,
        account_id: str,
        symbol: str,
        order_id: int,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        client_order_id: str | None = None,
        priority: AmendPriority = AmendPriority.KEEP_ON_DECREASE,
    ) -> Order:
        """Change an open order in place (``MatchingEngine.amend``); listeners hear REPLACED."""
        order = self.find_order(account_id, symbol, order_id=order_id)
        if order is None and account_id in self.untracked_accounts:
            order = self.engine(symbol).open_orders.get(order_id)  # the market's own, as cancel
        if order is None or not order.status.is_open:
            raise Rejection("unknown_order", "Unknown order sent.")
        outcome = self.engine(symbol).amend(
            order.order_id,
            quantity=quantity,
            price=price,
            stop_price=stop_price,
            client_order_id=client_order_id,
            priority=priority,
        )
        self._publish(symbol, outcome)
        return order

    def _order(self, request: OrderRequest, order_id: int) -> Order:
        return Order(
            order_id=order_id,
            client_order_id=request.client_order_id or _new_client_id(),
            account_id=request.account_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            quantity=request.quantity,
            price=request.price,
            stop_price=request.stop_price,
            quote_quantity=request.quote_quantity,
            trailing=request.trailing,
            self_trade_prevention=request.self_trade_prevention,
        )

    def cancel(self, account_id: str, symbol: str, order_id: int) -> Order:
        order = self.find_order(account_id, symbol, order_id=order_id)
        if order is None and account_id in self.untracked_accounts:
            order = self.engine(symbol).open_orders.get(order_id)
        if order is None or not order.status.is_open:
            raise Rejection("unknown_order", "Unknown order sent.")
        outcome = self.engine(symbol).cancel(order.order_id)
        self._publish(symbol, outcome)
        return order

    def cancel_list(self, account_id: str, symbol: str, list_id: int) -> OrderList:
        order_list = self.find_list(account_id, list_id=list_id)
        if (
            order_list is None
            or order_list.symbol != symbol
            or list_id not in self.engine(symbol).lists
        ):
            raise Rejection("unknown_list", "Order list does not exist.")
        self._publish(symbol, self.engine(symbol).cancel_list(list_id))
        return order_list

    def find_list(
        self,
        account_id: str,
        list_id: int | None = None,
        client_list_id: str | None = None,
    ) -> OrderList | None:
        """By id, else by client id (the newest list with it)."""
        if list_id is not None:
            found = self.lists.get(list_id)
            if found is None or found.account_id != account_id:
                return None
            if client_list_id is not None and found.client_list_id != client_list_id:
                return None
            return found
        for order_list in reversed(self.lists.values()):
            if order_list.account_id == account_id and order_list.client_list_id == client_list_id:
                return order_list
        return None

    def account_lists(self, account_id: str, open_only: bool = False) -> list[OrderList]:
        wanted = (ListStatus.EXECUTING,) if open_only else tuple(ListStatus)
        return [
            lst
            for lst in self.lists.values()
            if lst.account_id == account_id and lst.status in wanted
        ]

    def find_order(
        self,
        account_id: str,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> Order | None:
        if order_id is not None:
            order = self.orders.get(order_id)
            if order is None or order.account_id != account_id or order.symbol != symbol:
                return None
            if client_order_id is not None and order.client_order_id != client_order_id:
                return None
            return order
        # A client id is unique among open orders; among closed ones the newest wins.
        for order in reversed(self.orders.values()):
            if (
                order.account_id == account_id
                and order.symbol == symbol
                and order.client_order_id == client_order_id
            ):
                return order
        return None

    def open_orders(self, account_id: str, symbol: str | None = None) -> list[Order]:
        engines = [self.engine(symbol)] if symbol else self.engines.values()
        found = [o for e in engines for o in e.open_orders.values() if o.account_id == account_id]
        return sorted(found, key=lambda o: o.order_id)

    def account_orders(self, account_id: str, symbol: str) -> list[Order]:
        return [
            o for o in self.orders.values() if o.account_id == account_id and o.symbol == symbol
        ]

    # -- the market's own activity ------------------------------------------------------------

    def print_trade(self, symbol: str, price: Decimal, qty: Decimal, taker_side: Side) -> None:
        """A trade that happened outside the simulated book (replayed from a recording)."""
        engine = self.engine(symbol)
        trade = TradeEvent(
            symbol,
            engine.next_trade_id(),
            price,
            qty,
            self.now_ms(),
            -1,
            -1,
            taker_side,
            -1,
        )
        outcome = engine.observe_trade(price)
        outcome.trades.insert(0, trade)
        self._publish(symbol, outcome)

    def set_status(self, symbol: str, status: str) -> None:
        self.engine(symbol).instrument.status = status

    # -- fan-out ------------------------------------------------------------------------------

    def _publish(self, symbol: str, outcome: Outcome) -> None:
        now = self.now_ms()
        if outcome.level_changes:
            self.update_ids[symbol] += 1
            update = BookUpdate(
                symbol,
                self.update_ids[symbol],
                now,
                tuple((side, price, qty) for (side, price), qty in outcome.level_changes.items()),
            )
            for on_book in self.listeners.book:
                on_book(update)
        history = self.history[symbol]
        for trade in outcome.trades:
            history.add(trade)
            for on_trade in self.listeners.trade:
                on_trade(trade)
        for order_update in outcome.order_updates:
            for on_order in self.listeners.order:
                on_order(order_update.order.account_id, order_update)
        for list_update in outcome.list_updates:
            for on_list in self.listeners.order_list:
                on_list(list_update.order_list.account_id, list_update)
        self._balances_changed(outcome.accounts)

    def _balances_changed(self, account_ids: Iterable[str]) -> None:
        now = self.now_ms()
        for account_id in account_ids:
            account = self.accounts[account_id]
            account.updated_ms = now
            if not self.listeners.balance:
                continue
            change = BalanceChange(
                account_id,
                now,
                tuple((a, b.free, b.locked) for a, b in sorted(account.balances.items())),
            )
            for on_balance in self.listeners.balance:
                on_balance(change)

    def depth(
        self, symbol: str, limit: int
    ) -> tuple[int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        engine = self.engine(symbol)
        return (
            self.update_ids[symbol],
            engine.book.bids.depth(limit),
            engine.book.asks.depth(limit),
        )

    def key_for(self, key: str, venue: Venue = "binance") -> ApiKey | None:
        """``key`` if it exists and is a key of ``venue``'s dialect."""
        api_key = self.api_keys.get(key)
        return api_key if api_key is not None and api_key.venue == venue else None


def can(api_key: ApiKey, permission: Permission) -> bool:
    return permission in api_key.permissions
