"""The one registry of venues: a venue id → the factories of its package.

Services name venues only in their configuration (``MARKET_DATA_SUBSCRIPTIONS``,
``ORDER_BOOK_EXCHANGE_URLS``, ...) and get everything venue-specific from here by that id, so
none of them imports a venue package. Each ``Venue`` below points at the modules of its
package (``eip.exchanges.<venue>``) by ``"module:attribute"``; nothing is imported until one
of its factories is asked for, so listing venues or checking an id loads neither ccxt nor any
venue's code. Adding a venue is one entry here (``docs/ADDING_A_VENUE.md``).

Ids: the platform's id is ccxt's, except Gate.io, ``gateio``, which ccxt 4.5.90 calls
``gate``. The order-book service has always called Gate.io by ccxt's ``gate`` (in its settings,
its Kafka keys and its captures), so that is the id of Gate.io's book feed (``book_id``).
``aliases`` are other names of the same venue in recorded captures (``HUOBI``, ``GATE``);
``former_names`` are names of an older API no book dialect reads (``OKEX``: OKEx v3), which
only the market-data replay tries through ccxt. A venue without a factory of a kind is served
generically where there is a generic adapter: market data and live books through ccxt
(``eip.exchanges.ccxt``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from eip.exchanges.contract.errors import UnknownExchange
from eip.exchanges.contract.market_data import MarketDataAdapter

if TYPE_CHECKING:
    from eip.exchanges.contract.book_feed import BookFeed
    from eip.exchanges.contract.credentials import KeyValidator
    from eip.exchanges.contract.signing import RequestSigner
    from eip.exchanges.contract.symbols import AssetCodes, BalanceAsset
    from eip.exchanges.contract.trading import TradingAdapter
    from eip.exchanges.contract.transfers import TransferHistory
    from eip.exchanges.machinery.capture import BookCaptureDialect
    from eip.exchanges.machinery.replay.parser import ReplayDialect
    from eip.exchanges.machinery.transport import Transport
    from eip.exchanges.machinery.ws_book_feed import FeedOptions, WsBookFeed


@dataclass(frozen=True)
class Venue:
    """One venue and where its package keeps each kind of code ("module:attribute")."""

    id: str  # the platform's id, as configuration names the venue
    ccxt_id: str | None  # the pinned ccxt's class for it; None when ccxt has none
    aliases: tuple[str, ...] = ()  # other names of the venue (recorded captures' headers)
    former_names: tuple[str, ...] = ()  # an older API's name: market-data replay only
    # the native MarketDataAdapter factory (keywords base_url, ws_base_url, adapter options);
    # without one, or with native=False, ccxt serves market data
    market_data: str | None = None
    # the ReplayDialect of its trade and ticker frames; without one, ccxt replays them
    replay: str | None = None
    # the TradingAdapter factory (a RequestSigner, keywords base_url, ws_base_url, options);
    # a venue served by ccxt signs in-process, so its signer must also be a SecretSource
    trading: str | None = None
    # the native book feed factory: create_feed(symbols, transport, options, *, rest_url,
    # ws_url, **settings) → WsBookFeed; it replays the venue's captures, and serves live
    # books when live_book is "native" (else ccxt.pro's watch_order_book does)
    book: str | None = None
    live_book: Literal["native", "ccxt"] = "ccxt"
    book_id: str | None = None  # the order book's id for the venue, when not ``id``
    # where the exchange simulator serves the venue's book stream (its REST paths are the
    # venue's own); None: the simulator does not serve the venue
    simulator_ws_path: str | None = None
    # the BookCaptureDialect: what the venue's captures tell its book adapter
    book_capture: str | None = None
    # the KeyValidator class: (base_url, timeout_s) → validates API keys, reads permissions;
    # its ``default_base_url`` is the venue's public API, the auth service's default endpoint
    credentials: str | None = None
    # trade ids are consecutive integers per symbol, so a hole in stored trades is an id jump
    sequential_trade_ids: bool = False
    # the TransferHistory factory: (the account's TradingAdapter) → its deposits/withdrawals;
    # None: the platform does not read the venue's transfers (yet)
    transfers: str | None = None

    @property
    def book_exchange(self) -> str:
        """The venue's id in the order book (its settings, events and Kafka keys)."""
        return self.book_id or self.id


def _pkg(venue: str, module: str, attribute: str) -> str:
    return f"eip.exchanges.{venue}.{module}:{attribute}"


def _book(venue: str, **native: Any) -> dict[str, Any]:
    """The venue package's book adapter and what its captures tell it."""
    return {
        "book": _pkg(venue, "book", "create_feed"),
        "book_capture": _pkg(venue, "replay", "BOOK_CAPTURE"),
        **native,
    }


# The roadmap's venues, in the roadmap's order.
VENUES: tuple[Venue, ...] = (
    Venue(
        "binance",
        "binance",
        market_data=_pkg("binance", "market_data", "create_adapter"),
        replay=_pkg("binance", "replay", "DIALECT"),
        trading=_pkg("binance", "trading", "create_adapter"),
        book=_pkg("binance", "book", "create_feed"),
        live_book="native",
        simulator_ws_path="",
        credentials=_pkg("binance", "credentials", "BinanceValidator"),
        sequential_trade_ids=True,  # aggTrade ids
        transfers=_pkg("binance", "transfers", "create_transfers"),
    ),
    Venue(
        "coinbase",
        "coinbase",
        replay=_pkg("coinbase", "replay", "DIALECT"),
        trading=_pkg("coinbase", "trading", "create_adapter"),
        transfers=_pkg("coinbase", "transfers", "create_transfers"),
        credentials=_pkg("coinbase", "credentials", "CoinbaseValidator"),
        **_book("coinbase", live_book="native", simulator_ws_path="/coinbase/ws"),
    ),
    Venue(
        "kraken",
        "kraken",
        replay=_pkg("kraken", "replay", "DIALECT"),
        trading=_pkg("kraken", "trading", "create_adapter"),
        credentials=_pkg("kraken", "credentials", "KrakenValidator"),
        transfers=_pkg("kraken", "transfers", "create_transfers"),
        **_book("kraken", live_book="native", simulator_ws_path="/kraken/v2"),
    ),
    # KuCoin's live socket address and token come from POST /api/v1/bullet-public, which the
    # book feeds' Transport cannot send (GET only): live books stay on ccxt.pro until it can
    Venue(
        "kucoin",
        "kucoin",
        trading=_pkg("kucoin", "trading", "create_adapter"),
        transfers=_pkg("kucoin", "transfers", "create_transfers"),
        credentials=_pkg("kucoin", "credentials", "KucoinValidator"),
        **_book("kucoin"),
    ),
    Venue(
        "bitfinex",
        "bitfinex",
        trading=_pkg("bitfinex", "trading", "create_adapter"),
        transfers=_pkg("bitfinex", "transfers", "create_transfers"),
        credentials=_pkg("bitfinex", "credentials", "BitfinexValidator"),
        **_book("bitfinex"),
    ),
    # HTX frames are gzip, which LiveTransport decodes as UTF-8: live books stay on ccxt.pro
    Venue(
        "htx",
        "htx",
        aliases=("huobi",),
        trading=_pkg("htx", "trading", "create_adapter"),
        transfers=_pkg("htx", "transfers", "create_transfers"),
        credentials=_pkg("htx", "credentials", "HtxValidator"),
        **_book("htx"),
    ),
    Venue(
        "bybit",
        "bybit",
        replay=_pkg("bybit", "replay", "DIALECT"),
        trading=_pkg("bybit", "trading", "create_adapter"),
        transfers=_pkg("bybit", "transfers", "create_transfers"),
        credentials=_pkg("bybit", "credentials", "BybitValidator"),
        **_book("bybit"),
    ),
    Venue(
        "okx",
        "okx",
        former_names=("okex",),
        trading=_pkg("okx", "trading", "create_adapter"),
        transfers=_pkg("okx", "transfers", "create_transfers"),
        credentials=_pkg("okx", "credentials", "OkxValidator"),
        **_book("okx"),
    ),
    # ccxt 4.5.90 has no bitmex class (neither async nor pro): BitMEX is always native
    Venue(
        "bitmex",
        None,
        market_data=_pkg("bitmex", "market_data", "create_adapter"),
        replay=_pkg("bitmex", "replay", "DIALECT"),
        trading=_pkg("bitmex", "trading", "create_adapter"),
        transfers=_pkg("bitmex", "transfers", "create_transfers"),
        credentials=_pkg("bitmex", "credentials", "BitmexValidator"),
        **_book("bitmex", live_book="native"),
    ),
    Venue(
        "gateio",
        "gate",
        aliases=("gate",),
        book_id="gate",
        trading=_pkg("gateio", "trading", "create_adapter"),
        credentials=_pkg("gateio", "credentials", "GateioValidator"),
        transfers=_pkg("gateio", "transfers", "create_transfers"),
        **_book("gateio"),
    ),
)
ROADMAP_EXCHANGES: tuple[str, ...] = tuple(venue.id for venue in VENUES)
_BY_ID = {venue.id: venue for venue in VENUES}
_BY_NAME = {name: venue for venue in VENUES for name in (venue.id, *venue.aliases)}
_BY_FORMER_NAME = {name: venue for venue in VENUES for name in venue.former_names}
_BY_BOOK_ID = {venue.book_exchange: venue for venue in VENUES if venue.book is not None}


def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def venue(exchange: str) -> Venue | None:
    """The venue with this platform id (exactly as configuration spells it)."""
    return _BY_ID.get(exchange)


def find(name: str, *, former: bool = False) -> Venue | None:
    """The venue a capture header names: its id or an alias (with ``former``, also a former
    name), any case."""
    key = name.strip().lower()
    return _BY_NAME.get(key) or (_BY_FORMER_NAME.get(key) if former else None)


def capture_names(*, former: bool = False) -> list[str]:
    """Every name ``find`` knows."""
    return [*_BY_NAME, *(_BY_FORMER_NAME if former else ())]


def sequential_trade_id_exchanges() -> frozenset[str]:
    """The ids whose trade ids count up per symbol without holes."""
    return frozenset(venue.id for venue in VENUES if venue.sequential_trade_ids)


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
    constructor. The venues served by ccxt (KuCoin, Bitfinex, HTX, Bybit, OKX, Gate.io) sign
    in-process: their ``signer`` must also be a ``contract.signing.SecretSource``.
    """
    name = exchange.strip().lower()
    found = _BY_ID.get(name)
    if found is None or found.trading is None:
        raise UnknownExchange(f"no trading adapter for {exchange!r} yet")
    factory = _load(found.trading)
    return cast(
        "TradingAdapter", factory(signer, base_url=base_url, ws_base_url=ws_base_url, **options)
    )


def transfer_exchanges() -> list[str]:
    """The ids whose venue package reads deposits and withdrawals."""
    return [venue.id for venue in VENUES if venue.transfers is not None]


def create_transfer_history(exchange: str, adapter: TradingAdapter) -> TransferHistory | None:
    """The deposit and withdrawal history of the account ``adapter`` trades (it reads through
    that adapter: its signer, clock and rate budget); None where the venue's package has none."""
    found = _BY_ID.get(exchange.strip().lower())
    if found is None or found.transfers is None:
        return None
    return cast("TransferHistory", _load(found.transfers)(adapter))


def replay_dialect(found: Venue) -> ReplayDialect | None:
    """How the venue's captures' trade and ticker frames replay; ``None``: through ccxt."""
    return None if found.replay is None else cast("ReplayDialect", _load(found.replay))


# -- order books ----------------------------------------------------------------------------


def book_exchanges() -> list[str]:
    """The ids the order book has a live feed for, sorted."""
    return sorted(_BY_BOOK_ID)


def native_book_exchanges() -> list[str]:
    """The ids whose venue package has its own book adapter (live or for replays)."""
    return list(_BY_BOOK_ID)


def book_venue(name: str) -> Venue | None:
    """The venue of an order-book id, or of a name captures use for it (``huobi``,
    ``gateio``)."""
    found = _BY_BOOK_ID.get(name)
    if found is None:
        found = find(name)
    return found if found is not None and found.book is not None else None


def create_native_book_feed(
    exchange: str,
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    simulator_url: str | None = None,
    **settings: Any,
) -> WsBookFeed:
    """The venue package's own book adapter; ``simulator_url`` points it at the exchange
    simulator instead. ``settings`` are the adapter's keywords (Kraken: ``depth``, ``api``;
    Coinbase: ``api`` ``advanced`` (default) or ``exchange``, the ex-Pro feed; OKX:
    ``channel``; Bitfinex: ``prec``, ``length``; Bybit: ``topic``; KuCoin:
    ``snapshot_path``)."""
    found = _BY_BOOK_ID.get(exchange)
    if found is None or found.book is None:
        raise ValueError(
            f"no native adapter for {exchange!r}; native: {', '.join(native_book_exchanges())}"
        )
    if simulator_url:
        if found.simulator_ws_path is None:
            raise ValueError(f"the simulator does not serve {exchange!r}")
        # imported here: the URL helper is all this module needs of the machinery
        from eip.exchanges.machinery.urls import ws_origin

        rest_url = simulator_url.rstrip("/")
        settings = {
            **settings,
            "rest_url": rest_url,
            "ws_url": ws_origin(rest_url) + found.simulator_ws_path,
        }
    factory = _load(found.book)
    return cast("WsBookFeed", factory(symbols, transport, options, **settings))


def create_book_feed(exchange: str, symbols: list[str], *, base_url: str | None = None) -> BookFeed:
    """A live book feed: the venue's own adapter where it serves live books, else ccxt.pro.
    ``base_url`` is one host serving the venue's REST and streams (the exchange simulator, a
    recording proxy) instead of the venue's production URLs."""
    found = _BY_BOOK_ID.get(exchange)
    if found is None:
        raise ValueError(
            f"no book feed for exchange {exchange!r}; supported: {', '.join(book_exchanges())}"
        )
    if found.live_book == "native":
        from eip.exchanges.machinery.transport import LiveTransport

        return create_native_book_feed(exchange, symbols, LiveTransport(), simulator_url=base_url)
    from eip.exchanges.ccxt.book import CcxtProFeed

    return CcxtProFeed(exchange, symbols, base_url=base_url)


def book_capture_dialect(found: Venue) -> BookCaptureDialect:
    """What the venue's captures tell its book adapter (the defaults when it says nothing)."""
    from eip.exchanges.machinery.capture import BookCaptureDialect

    if found.book_capture is None:
        return BookCaptureDialect()
    return cast("BookCaptureDialect", _load(found.book_capture))


# -- credentials ----------------------------------------------------------------------------


def credential_exchanges() -> list[str]:
    """The ids whose venue package validates API keys."""
    return [venue.id for venue in VENUES if venue.credentials is not None]


def key_validator_base_url(exchange: str) -> str:
    """The venue's public API its key validator calls unless told otherwise (the validator
    class's ``default_base_url``, from the venue's package)."""
    return str(_key_validator_class(exchange).default_base_url)


def create_key_validator(
    exchange: str, base_url: str | None = None, timeout_s: float = 10.0
) -> KeyValidator:
    """The venue's key validator, calling the venue's public API, or ``base_url`` (the
    simulator, a test server) when given."""
    cls = _key_validator_class(exchange)
    return cast("KeyValidator", cls(base_url or cls.default_base_url, timeout_s))


def _key_validator_class(exchange: str) -> Any:
    found = _BY_ID.get(exchange)
    if found is None or found.credentials is None:
        raise ValueError(
            f"no key validator for exchange {exchange!r}; "
            f"supported: {', '.join(credential_exchanges())}"
        )
    return _load(found.credentials)


# -- balance asset codes --------------------------------------------------------------------


def asset_codes(exchange: str) -> AssetCodes:
    """The venue's table of balance codes: ``eip.exchanges.<id>.assets:ASSET_CODES``, which
    every roadmap venue's package has (a venue needs no registry entry field for it). Any other
    id gets the plain table (``normalize_asset``, spot)."""
    found = _BY_ID.get(exchange.strip().lower())
    if found is None:
        from eip.exchanges.contract.symbols import PLAIN_ASSET_CODES

        return PLAIN_ASSET_CODES
    return cast("AssetCodes", _load(_pkg(found.id, "assets", "ASSET_CODES")))


def balance_asset(exchange: str, code: str) -> BalanceAsset:
    """A venue's balance code as (asset, wallet, scale) through the venue's own table:
    ``kraken`` ``XXBT.M`` → BTC in ``rewards``; ``bitmex`` ``XBt`` → BTC x 1e-8; ``binance``
    ``LDUSDT`` → USDT in ``earn``; ``bitfinex`` ``UST`` → USDT."""
    return asset_codes(exchange).balance_asset(code)
