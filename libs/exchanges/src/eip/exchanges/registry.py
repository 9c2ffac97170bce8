"""The one registry of venues: a venue id → the factories of its package.

Services name venues only in their configuration (``MARKET_DATA_SUBSCRIPTIONS``,
``ORDER_BOOK_EXCHANGE_URLS``, ...) and get everything venue-specific from here by that id, so
none of them imports a venue package. Each ``Venue`` below points at the modules of its
package (``eip.exchanges.<venue>``) by ``"module:attribute"``; nothing is imported until one
of its factories is asked for, so listing venues or checking an id loads neither ccxt nor any
venue's code. Adding a venue is one entry here (``docs/ADDING_A_VENUE.md``).

Ids: the platform's id is ccxt's, except Gate.io, ``gateio``, which ccxt 4.5.90 calls
``gate``; ``aliases`` are the other names a venue goes by in recorded captures (``HUOBI``,
``OKEX``, ``GATE``). A venue without a factory of a kind is served generically where there is
a generic adapter: market data through ccxt (``eip.exchanges.ccxt``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from eip.exchanges.contract.errors import UnknownExchange
from eip.exchanges.contract.market_data import MarketDataAdapter

if TYPE_CHECKING:
    from eip.exchanges.contract.signing import RequestSigner
    from eip.exchanges.contract.trading import TradingAdapter
    from eip.exchanges.machinery.replay.parser import ReplayDialect


@dataclass(frozen=True)
class Venue:
    """One venue and where its package keeps each kind of code ("module:attribute")."""

    id: str  # the platform's id, as configuration names the venue
    ccxt_id: str | None  # the pinned ccxt's class for it; None when ccxt has none
    aliases: tuple[str, ...] = ()  # other names of the venue (recorded captures' headers)
    # the native MarketDataAdapter factory (keywords base_url, ws_base_url, adapter options);
    # without one, or with native=False, ccxt serves market data
    market_data: str | None = None
    # the ReplayDialect of its trade and ticker frames; without one, ccxt replays them
    replay: str | None = None
    # the TradingAdapter factory (a RequestSigner, keywords base_url, ws_base_url, options)
    trading: str | None = None


def _pkg(venue: str, module: str, attribute: str) -> str:
    return f"eip.exchanges.{venue}.{module}:{attribute}"


# The roadmap's venues, in the roadmap's order.
VENUES: tuple[Venue, ...] = (
    Venue(
        "binance",
        "binance",
        market_data=_pkg("binance", "market_data", "create_adapter"),
        replay=_pkg("binance", "replay", "DIALECT"),
        trading=_pkg("binance", "trading", "create_adapter"),
    ),
    Venue("coinbase", "coinbase", replay=_pkg("coinbase", "replay", "DIALECT")),
    Venue("kraken", "kraken", replay=_pkg("kraken", "replay", "DIALECT")),
    Venue("kucoin", "kucoin"),
    Venue("bitfinex", "bitfinex"),
    Venue("htx", "htx", aliases=("huobi",)),
    Venue("bybit", "bybit", replay=_pkg("bybit", "replay", "DIALECT")),
    Venue("okx", "okx", aliases=("okex",)),
    # ccxt 4.5.90 has no bitmex class (neither async nor pro): BitMEX is always native
    Venue(
        "bitmex",
        None,
        market_data=_pkg("bitmex", "market_data", "create_adapter"),
        replay=_pkg("bitmex", "replay", "DIALECT"),
    ),
    Venue("gateio", "gate", aliases=("gate",)),
)
ROADMAP_EXCHANGES: tuple[str, ...] = tuple(venue.id for venue in VENUES)
_BY_ID = {venue.id: venue for venue in VENUES}
_BY_NAME = {name: venue for venue in VENUES for name in (venue.id, *venue.aliases)}


def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def venue(exchange: str) -> Venue | None:
    """The venue with this platform id (exactly as configuration spells it)."""
    return _BY_ID.get(exchange)


def find(name: str) -> Venue | None:
    """The venue a capture header names: its id or an alias, any case."""
    return _BY_NAME.get(name.strip().lower())


def capture_names() -> list[str]:
    """Every name ``find`` knows."""
    return list(_BY_NAME)


def ccxt_id(exchange: str) -> str:
    """ccxt's id for a platform id (``gateio`` → ``gate``); other ids are ccxt's already."""
    found = _BY_ID.get(exchange)
    return found.ccxt_id if found is not None and found.ccxt_id else exchange


def create_market_data_adapter(
    exchange: str,
    *,
    base_url: str | None = None,
    ws_base_url: str | None = None,
    native: bool = True,
    **options: Any,
) -> MarketDataAdapter:
    """The venue's native adapter when it has one and ``native`` (always, where ccxt lacks the
    venue: BitMEX); ccxt for the rest, and for any other id the pinned ccxt knows.

    ``base_url`` moves REST (and, for ccxt, the WebSocket hosts) to another host, e.g. the
    simulator; ``ws_base_url`` defaults to ``base_url`` with ``ws``/``wss``. ``options`` go to
    the adapter's constructor (``stale_after_s``, ``retry_policy``, ``breaker``, ...).
    Raises ``UnknownExchange`` for an id neither a venue package nor ccxt serves.
    """
    name = exchange.strip().lower()
    found = _BY_ID.get(name)
    if found is not None and found.market_data and (native or found.ccxt_id is None):
        factory = _load(found.market_data)
        return cast(
            MarketDataAdapter, factory(base_url=base_url, ws_base_url=ws_base_url, **options)
        )

    from eip.exchanges.ccxt.market_data import CcxtMarketDataAdapter, new_client

    client = new_client(name, base_url)  # raises UnknownExchange for ids ccxt lacks
    return CcxtMarketDataAdapter(name, client=client, **options)


def create_trading_adapter(
    exchange: str,
    signer: RequestSigner,
    *,
    base_url: str | None = None,
    ws_base_url: str | None = None,
    **options: Any,
) -> TradingAdapter:
    """The trading adapter of one account at ``exchange``, signing through ``signer`` (the auth
    service: ``eip.credentials_client.AuthRequestSigner``).

    ``base_url`` moves REST (and ``ws_base_url``, by default ``base_url`` with ``ws``/``wss``,
    the private stream) to another host, e.g. the simulator; ``options`` go to the adapter's
    constructor. Venues follow as their adapters land (Kraken, Coinbase, BitMEX, ccxt).
    """
    name = exchange.strip().lower()
    found = _BY_ID.get(name)
    if found is None or found.trading is None:
        raise UnknownExchange(f"no trading adapter for {exchange!r} yet")
    factory = _load(found.trading)
    return cast(
        "TradingAdapter", factory(signer, base_url=base_url, ws_base_url=ws_base_url, **options)
    )


def replay_dialect(found: Venue) -> ReplayDialect | None:
    """How the venue's captures' trade and ticker frames replay; ``None``: through ccxt."""
    return None if found.replay is None else cast("ReplayDialect", _load(found.replay))
