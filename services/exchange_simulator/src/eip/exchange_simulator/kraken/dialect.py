"""The Kraken dialect's own state, shared by its REST endpoints and WebSocket feeds: the names
of pairs, the rate limiter, the last nonce of each key, WebSocket tokens, and what Kraken
remembers about an order that the core does not (its Kraken order type, ``userref``,
``cl_ord_id``, flags, why it closed).

Orders placed through another dialect of the same account have no such record; they are shown
with what the core knows (a Binance LIMIT is a Kraken ``limit`` without ``userref``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from eip.exchange_simulator.core.accounts import ApiKey
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.core.key_formats import Venue
from eip.exchange_simulator.core.orders import Order, OrderType
from eip.exchange_simulator.kraken.ids import TradeIds
from eip.exchange_simulator.kraken.names import Pairs
from eip.exchange_simulator.kraken.ratelimit import KrakenRateLimiter

VENUE: Venue = "kraken"
TOKEN_TTL_MS = 15 * 60 * 1000  # a token must be used within 15 minutes; a socket keeps it alive

_CORE_TYPES = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.LIMIT_MAKER: "limit",
    OrderType.STOP_LOSS: "stop-loss",
    OrderType.STOP_LOSS_LIMIT: "stop-loss-limit",
    OrderType.TAKE_PROFIT: "take-profit",
    OrderType.TAKE_PROFIT_LIMIT: "take-profit-limit",
}


def kraken_order_type(order: Order) -> str:
    return _CORE_TYPES.get(order.type, order.type.value.lower().replace("_", "-"))


@dataclass
class OrderExtras:
    """What a Kraken client said about an order beyond the core's fields."""

    ordertype: str
    userref: int | None = None
    cl_ord_id: str | None = None
    oflags: tuple[str, ...] = ()
    viqc: bool = False
    price_text: str | None = None  # descr.price as Kraken shows it (relative prices kept)
    price2_text: str | None = None
    trigger: str = "last"
    reason: str | None = None  # why it closed, when a client or Kraken closed it


@dataclass
class WsToken:
    key: str
    account_id: str
    issued_ms: int


@dataclass
class KrakenDialect:
    exchange: Exchange
    faults: Faults
    limiter: KrakenRateLimiter = field(default_factory=KrakenRateLimiter)
    nonces: dict[str, int] = field(default_factory=dict)  # API key -> last accepted nonce
    extras: dict[int, OrderExtras] = field(default_factory=dict)  # core order id ->
    tokens: dict[str, WsToken] = field(default_factory=dict)
    amends: int = 0  # amendments made, numbering their amend ids

    def __post_init__(self) -> None:
        self.pairs = Pairs(self.exchange.instruments.values())
        self.trade_ids = TradeIds(list(self.exchange.instruments))

    def extras_of(self, order: Order) -> OrderExtras:
        found = self.extras.get(order.order_id)
        if found is not None:
            return found
        fee_flag = "fciq" if order.side.value == "SELL" else "fcib"
        flags = (fee_flag, "post") if order.type is OrderType.LIMIT_MAKER else (fee_flag,)
        return OrderExtras(kraken_order_type(order), oflags=flags)

    # -- WebSocket tokens ----------------------------------------------------------------------

    def issue_token(self, key: ApiKey, now_ms: int) -> str:
        self._forget_expired(now_ms)
        token = secrets.token_urlsafe(32)
        self.tokens[token] = WsToken(key.key, key.account_id, now_ms)
        return token

    def token_account(self, token: object, now_ms: int) -> str | None:
        """The account a token opens, if it is known, fresh, and its key still exists."""
        entry = self.tokens.get(token) if isinstance(token, str) else None
        if entry is None or now_ms - entry.issued_ms > TOKEN_TTL_MS:
            return None
        if self.exchange.key_for(entry.key, VENUE) is None:
            return None
        return entry.account_id

    def _forget_expired(self, now_ms: int) -> None:
        for token, entry in list(self.tokens.items()):
            if now_ms - entry.issued_ms > TOKEN_TTL_MS:
                del self.tokens[token]
