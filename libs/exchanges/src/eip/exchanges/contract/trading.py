"""Private trading access in the platform's vocabulary: the contract every venue implements.

What the account and order-management services need from a venue, and nothing of how the
venue spells it: orders, amendments, cancels, queries by the platform's client order id, own
fills behind a resumable cursor, balances, instrument rules and capabilities, and private
streams as async iterators of normalized events.

The subtle parts, in the order they bite:

- **Outcome unknown.** A placement whose answer never came (timeout, connection reset, 5xx
  after the request left) raises ``OutcomeUnknown``: the order may or may not exist. The caller
  must look it up by ``client_order_id`` (``fetch_order``) before doing anything else, and the
  adapter itself never retries a placement. Every other call may be retried by the caller.
- **Client order ids are the platform's.** Every order carries one, chosen by the platform and
  made to fit the venue's alphabet and length (``ClientOrderIdRules``, ``client_order_ids.py``);
  it is how an unknown outcome is resolved and how fills are matched to orders after a crash.
- **Decimal end to end.** Prices and quantities are ``Decimal`` parsed from the venue's text;
  quantities are in the base asset unless a field says ``quote``.
- **Ordering.** Order updates carry the venue's own sequence or update time (``sequence``) so a
  consumer can drop an update older than one it already applied. Where the venue's best is a
  time in milliseconds (Binance), two updates of one order can share it (accepted and filled in
  the same millisecond), so a consumer compares ``VenueOrder.update_key()`` — the sequence, then
  the filled quantity, then how final the status is, all of which only move forward — and drops
  an update whose key is not above the last one it applied. Fills carry the venue's trade id
  (with the venue order id: both sides of a self-trade are the account's), so a consumer
  de-duplicates replays after a reconnect.
- **Permission versus credential.** A key the venue refuses outright (unknown, revoked, wrong
  signature, IP not allowed) raises ``CredentialRejected`` on any call; a working key that may
  not do this one thing (a read-only key placing an order) is an ``OrderRejected`` with
  ``PERMISSION_DENIED``, so the caller can tell "fix the credential" from "this order failed".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal, Protocol

from eip.exchanges.contract.market_data import StreamStatus

OrderSide = Literal["buy", "sell"]
Liquidity = Literal["maker", "taker"]


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"  # stop-loss: market once the trigger is crossed
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT_MARKET = "take_profit_market"
    TAKE_PROFIT_LIMIT = "take_profit_limit"
    TRAILING_STOP_MARKET = "trailing_stop_market"
    TRAILING_STOP_LIMIT = "trailing_stop_limit"

    @property
    def has_limit_price(self) -> bool:
        return self in _LIMIT_PRICED

    @property
    def is_conditional(self) -> bool:
        return self not in (OrderType.MARKET, OrderType.LIMIT)

    @property
    def is_trailing(self) -> bool:
        return self in (OrderType.TRAILING_STOP_MARKET, OrderType.TRAILING_STOP_LIMIT)


_LIMIT_PRICED = frozenset(
    {
        OrderType.LIMIT,
        OrderType.STOP_LIMIT,
        OrderType.TAKE_PROFIT_LIMIT,
        OrderType.TRAILING_STOP_LIMIT,
    }
)


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    GTD = "gtd"


class VenueOrderStatus(StrEnum):
    """An order's state as the venue reports it (the platform's own, richer state machine lives
    in order management; this is only what the venue says)."""

    UNTRIGGERED = "untriggered"  # a conditional order waiting for its trigger
    OPEN = "open"  # resting (or working) with nothing filled
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"  # canceled with or without partial fills
    EXPIRED = "expired"  # IOC/FOK/GTD leftovers, self-trade prevention, triggered-and-starved
    REJECTED = "rejected"  # refused after acceptance (some venues reject asynchronously)

    @property
    def is_open(self) -> bool:
        return self in (
            VenueOrderStatus.UNTRIGGERED,
            VenueOrderStatus.OPEN,
            VenueOrderStatus.PARTIALLY_FILLED,
        )

    @property
    def rank(self) -> int:
        """How far along an order's life the status is; it never goes back."""
        return _STATUS_RANK[self]


_STATUS_RANK = {
    VenueOrderStatus.UNTRIGGERED: 0,
    VenueOrderStatus.OPEN: 1,
    VenueOrderStatus.PARTIALLY_FILLED: 2,
    VenueOrderStatus.FILLED: 3,
    VenueOrderStatus.CANCELED: 3,
    VenueOrderStatus.EXPIRED: 3,
    VenueOrderStatus.REJECTED: 3,
}


@dataclass(frozen=True, slots=True)
class TrailingOffset:
    """How far a trailing stop's trigger follows the best price since activation: an absolute
    price distance or basis points (100 bps = 1 %)."""

    value: Decimal
    unit: Literal["price", "bps"]


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str  # normalized "BASE/QUOTE"
    side: OrderSide
    type: OrderType
    client_order_id: str  # the platform's, already fitted to the venue's rules
    quantity: Decimal | None = None  # base quantity
    quote_quantity: Decimal | None = None  # market orders sized in quote (capability-gated)
    price: Decimal | None = None  # limit price
    stop_price: Decimal | None = None  # trigger (or trailing activation) price
    trailing: TrailingOffset | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_time: datetime | None = None  # GTD only
    post_only: bool = False
    reduce_only: bool = False  # derivatives venues only


@dataclass(frozen=True, slots=True)
class OcoRequest:
    """One-cancels-the-other: a limit leg (``price``) and a stop leg (``stop_price``, and
    ``stop_limit_price`` for a stop-limit) sharing one quantity; the first leg to execute
    cancels the other. Only where ``TradingCapabilities.native_oco``."""

    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    stop_price: Decimal
    list_client_id: str
    limit_client_order_id: str
    stop_client_order_id: str
    stop_limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as the venue knows it right now."""

    exchange: str
    symbol: str
    venue_order_id: str
    client_order_id: str | None  # None for orders placed outside the platform without one
    side: OrderSide
    type: OrderType
    status: VenueOrderStatus
    quantity: Decimal | None  # base; None for quote-sized market orders until filled
    filled_quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    average_price: Decimal | None = None  # of the fills so far; None before the first
    time_in_force: TimeInForce | None = None
    created_time: datetime | None = None
    updated_time: datetime | None = None
    # The venue's order of updates of this order: an update id or sequence where the venue has
    # one, else its update time (Binance: milliseconds, so two updates may tie; see
    # ``update_key``). Never lower for a later update of the same order.
    sequence: int | None = None
    reason: str | None = None  # why canceled / expired / rejected, in the venue's words
    list_id: str | None = None  # the order list (OCO) the order belongs to

    @property
    def remaining_quantity(self) -> Decimal | None:
        if self.quantity is None:
            return None
        return self.quantity - self.filled_quantity

    def update_key(self) -> tuple[int, Decimal, int]:
        """What a consumer compares to keep the newest state of an order: the venue's sequence,
        then the filled quantity, then the status rank. A later update of the same order never
        has a lower key; one whose key is not above the last applied is old or a repeat."""
        return (self.sequence or 0, self.filled_quantity, self.status.rank)


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One execution of one of the account's orders."""

    exchange: str
    symbol: str
    # The venue's id, unique per venue and instrument — except that an account trading with
    # itself has two fills of one trade (one per side): (trade_id, venue_order_id) is unique.
    trade_id: str
    venue_order_id: str
    client_order_id: str | None
    side: OrderSide
    price: Decimal
    quantity: Decimal  # base
    fee: Decimal
    fee_asset: str | None  # normalized asset; None when the venue does not say
    liquidity: Liquidity | None
    time: datetime


@dataclass(frozen=True, slots=True)
class AssetBalance:
    """Free and locked amounts of one normalized asset in one wallet of the account."""

    asset: str  # normalized "BTC", "USD"
    free: Decimal
    locked: Decimal
    # Spot balances are "spot"; earn, staking, margin or funding balances the venue reports in
    # the same call are named apart (Kraken's ``.S``/``.M``/``.F``/``.B`` suffixes) and never
    # mixed into spot.
    wallet: str = "spot"

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True, slots=True)
class FillCursor:
    """Where a fill history read stopped; opaque to callers, stored by them to resume.
    ``value`` is the venue's own paging token (a trade id, an offset, a time in ms)."""

    symbol: str | None
    value: str


@dataclass(frozen=True, slots=True)
class FillPage:
    fills: list[VenueFill]
    next_cursor: FillCursor  # resume here; equal to the input cursor when nothing was new


@dataclass(frozen=True, slots=True)
class ClientOrderIdRules:
    """What the venue accepts as a client order id."""

    max_length: int
    alphabet: str  # a regex character class body, e.g. "A-Za-z0-9_-"
    kind: Literal["text", "uuid", "integer"] = "text"
    prefix: str = ""  # a prefix the venue requires (Gate.io: "t-")


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal
    max_quantity: Decimal | None
    min_notional: Decimal | None
    max_notional: Decimal | None = None
    order_types: frozenset[OrderType] = frozenset({OrderType.MARKET, OrderType.LIMIT})
    time_in_force: frozenset[TimeInForce] = frozenset({TimeInForce.GTC})
    post_only: bool = False
    quote_quantity_market: bool = False
    trading: bool = True  # False while the venue halts the instrument
    amend: bool = False  # this instrument's orders may be amended natively (see AmendSupport)
    oco: bool = False  # native one-cancels-the-other lists on this instrument
    # Market orders may have a lower ceiling than limit orders (Binance MARKET_LOT_SIZE).
    max_market_quantity: Decimal | None = None


class Support(StrEnum):
    """How a capability is available on a venue."""

    NATIVE = "native"  # the venue does it
    EMULATED = "emulated"  # the platform does it from market data (order management)
    NONE = "none"  # neither


@dataclass(frozen=True, slots=True)
class AmendSupport:
    """What a native amend may change while the order keeps its ids; anything marked
    ``EMULATED`` the platform does as a cancel-replace (the adapter raises ``NotSupported``).
    Venues differ: Binance only lowers the quantity (keeping priority), Kraken and Coinbase
    change price and quantity."""

    quantity_down: Support = Support.NONE
    quantity_up: Support = Support.NONE
    price: Support = Support.NONE

    def native(self, *, quantity_down: bool, quantity_up: bool, price: bool) -> bool:
        """Whether an amend changing these is native."""
        wanted = (
            (quantity_down, self.quantity_down),
            (quantity_up, self.quantity_up),
            (price, self.price),
        )
        return all(support is Support.NATIVE for asked, support in wanted if asked)


@dataclass(frozen=True, slots=True)
class TradingCapabilities:
    amend: AmendSupport = field(default_factory=AmendSupport)
    stop: Support = Support.NONE
    take_profit: Support = Support.NONE
    trailing_stop: Support = Support.NONE
    oco: Support = Support.NONE
    post_only: Support = Support.NONE
    quote_quantity_market: Support = Support.NONE
    private_stream: bool = False  # order/fill/balance pushes (else REST polling only)
    balance_stream: bool = False
    # Own fills and closed orders are kept per instrument (Binance myTrades / allOrders): the
    # history calls need a symbol and raise NotSupported without one.
    history_needs_symbol: bool = False
    # A placement repeating a client order id the account already used places nothing and
    # answers the order that id placed (Coinbase: the id is an idempotency key), instead of a
    # DUPLICATE_CLIENT_ORDER_ID rejection. Resending after OutcomeUnknown is then safe — the
    # adapter still never resends by itself.
    idempotent_client_order_id: bool = False
    client_order_ids: ClientOrderIdRules = field(
        default_factory=lambda: ClientOrderIdRules(max_length=32, alphabet="A-Za-z0-9")
    )


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    order: VenueOrder
    received_time: datetime


@dataclass(frozen=True, slots=True)
class FillEvent:
    fill: VenueFill
    received_time: datetime


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    """Balances pushed by the venue. ``snapshot``: the full set (anything absent is zero);
    otherwise only the assets that changed."""

    exchange: str
    balances: list[AssetBalance]
    snapshot: bool
    exchange_time: datetime | None
    received_time: datetime


@dataclass(frozen=True, slots=True)
class StreamResumed:
    """The private stream reconnected after a gap. The adapter has already caught up over REST
    (open orders, fills since the last one seen) and emitted what was missed before this event;
    it is informational (metrics, logs)."""

    exchange: str
    down_since: datetime
    received_time: datetime


PrivateEvent = OrderUpdate | FillEvent | BalanceUpdate | StreamResumed


class TradingAdapter(Protocol):
    """One venue account (one credential). Errors are ``eip.exchanges.contract.errors`` classes:
    ``OrderRejected`` (with a ``RejectReason``), ``OrderNotFound``, ``OutcomeUnknown``,
    ``NotSupported``, ``CredentialRejected``, and the transient ones market data uses."""

    exchange: str
    capabilities: TradingCapabilities

    async def load_rules(self) -> dict[str, InstrumentRules]:
        """Rules of every instrument the venue lists, by normalized symbol."""
        ...

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        """Send one order, once. ``OutcomeUnknown`` when the answer was lost."""
        ...

    async def place_oco(self, request: OcoRequest) -> list[VenueOrder]:
        """Both legs of a native OCO; ``NotSupported`` where the venue has none."""
        ...

    async def cancel_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        """Cancel by either id. ``OrderNotFound`` if the venue does not know it; an order that
        is already closed comes back as it is (cancelling is idempotent for the caller)."""
        ...

    async def amend_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> VenueOrder:
        """Native amend (what ``capabilities.amend`` marks ``NATIVE``); else ``NotSupported``
        and the caller cancel-replaces. The order keeps its venue id and client order id."""
        ...

    async def fetch_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        """The order as the venue knows it; ``OrderNotFound`` proves absence only when the
        venue's lookup by that id is authoritative (documented per venue)."""
        ...

    async def fetch_open_orders(self, symbol: str | None = None) -> list[VenueOrder]: ...

    async def fetch_closed_orders(
        self, symbol: str | None, since: datetime, limit: int | None = None
    ) -> list[VenueOrder]: ...

    async def fetch_fills(
        self, symbol: str | None, cursor: FillCursor | None = None, limit: int | None = None
    ) -> FillPage:
        """Own fills after ``cursor`` (from the beginning of what the venue keeps when None),
        oldest first."""
        ...

    async def fetch_balances(self) -> list[AssetBalance]: ...

    def private_events(self) -> AsyncIterator[PrivateEvent]:
        """Order updates, fills and balance changes, until the iterator is closed. Reconnects,
        resubscribes and catches up over REST by itself."""
        ...

    def status(self) -> StreamStatus:
        """The private stream's health (connected, last message age, stale, errors)."""
        ...

    async def close(self) -> None: ...
