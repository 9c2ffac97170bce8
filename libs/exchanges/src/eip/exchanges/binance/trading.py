"""``TradingAdapter`` for Binance spot: signed REST for orders, history, balances and rules;
the WebSocket API user data stream for order updates, fills and balance changes.

Every signed request is signed through a ``RequestSigner`` (the auth service): this adapter
never holds the secret. What is subtle, in the order it bites:

- **A placement is sent once.** No retry, whatever happens. A time-out, a reset connection or a
  5xx after the request left is ``OutcomeUnknown``: look the order up by its client order id
  (``fetch_order``) — Binance's lookup by ``origClientOrderId`` is authoritative for orders of the
  last three months, so ``OrderNotFound`` then proves it was never placed. Refusals before the
  matching engine (-1021 timestamp, 429/418 weight, a signer that refuses or is down) raise
  before or without placing: those are safe to send again with the same client order id.
  A -1021 is sent again once here, after the clock measured the offset again (``clock.py``):
  a host that stalled or a venue whose clock moved costs no placement.
- **-2015 is ambiguous**: "invalid API-key, IP, or permissions for action". On an order action
  the adapter reads the account: a working key with ``canTrade`` false is an ``OrderRejected``
  with ``PERMISSION_DENIED``; anything else is ``CredentialRejected``.
- **Cancel is idempotent for the caller**: -2011 (unknown, or already closed) is answered with
  the order as it stands, or ``OrderNotFound``. A cancel is retried like a read.
- **Amend** (``PUT /api/v3/order/amend/keepPriority``) only lowers the quantity, keeping the
  order's priority, its id and — sent as ``newClientOrderId`` — its client order id (Binance
  would draw a new one otherwise). A price change or a larger quantity is ``NotSupported``:
  cancel-replace.
- **Trailing stops** trail by whole basis points (``trailingDelta``); ``stop_price`` is their
  activation price. An **OCO** is one ``orderList/oco``, sent once; cancelling a leg cancels
  the list.
- **History is per symbol**: ``myTrades`` and ``allOrders`` need one; ``allOrders`` filters on
  creation time, so ``fetch_closed_orders(since=...)`` lists orders created since then (an
  older order closed since is found by ``fetch_order`` or the stream).
- **The private stream** (``private_events``) reconnects by itself; after every reconnect it
  catches up over REST — open orders, the orders it knew open, orders created and fills made
  since the connection was lost, the balances — emits what was missed (each order's updates
  only forward, each fill once) and then ``StreamResumed``.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from eip.exchanges.binance import trading_wire as wire
from eip.exchanges.binance.clock import ServerClock
from eip.exchanges.binance.rest import BinanceApiError, BinanceRest, ClockRejected
from eip.exchanges.binance.symbols import binance_symbol_map
from eip.exchanges.binance.trading_wire import CLIENT_ORDER_IDS
from eip.exchanges.binance.user_stream import WANTED, BinanceUserStream
from eip.exchanges.binance.weights import WeightLimiter
from eip.exchanges.contract.client_order_ids import fits
from eip.exchanges.contract.errors import (
    BadRequest,
    CredentialRejected,
    ExchangeError,
    NotSupported,
    OrderNotFound,
    OrderRejected,
    RejectReason,
    UnknownSymbol,
)
from eip.exchanges.contract.market_data import StreamStatus
from eip.exchanges.contract.signing import RequestSigner, SigningRequest
from eip.exchanges.contract.symbols import SymbolMap
from eip.exchanges.contract.trading import (
    AmendSupport,
    AssetBalance,
    FillCursor,
    FillPage,
    InstrumentRules,
    OcoRequest,
    OrderRequest,
    PrivateEvent,
    Support,
    TradingCapabilities,
    VenueFill,
    VenueOrder,
)
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.private_feed import PrivateFeed, run_private_stream
from eip.exchanges.machinery.private_state import PrivateState
from eip.exchanges.machinery.urls import ws_url
from eip.exchanges.machinery.venue_rest import Params, PreparedRequest
from eip.exchanges.machinery.venue_stream import RECONNECT_POLICY
from eip.resilience import CircuitBreaker, RetryPolicy, retry_async

log = logging.getLogger(__name__)

EXCHANGE = "binance"
REST_BASE = "https://api.binance.com"
WS_API_URL = "wss://ws-api.binance.com:443/ws-api/v3"
MAX_LIMIT = 1000
# A catch-up reads orders and fills from a little before the connection was lost: the venue's
# clock and ours differ, and an event in flight when it dropped is read again (and dropped).
CATCH_UP_MARGIN = timedelta(seconds=5)
# A request sent once, refused for its timestamp (-1021), is sent once more with a fresh stamp.
CLOCK_RETRY = RetryPolicy(attempts=2, base_delay_s=0.0, max_delay_s=0.0)

CAPABILITIES = TradingCapabilities(
    amend=AmendSupport(
        quantity_down=Support.NATIVE, quantity_up=Support.EMULATED, price=Support.EMULATED
    ),
    stop=Support.NATIVE,
    take_profit=Support.NATIVE,
    trailing_stop=Support.NATIVE,  # in basis points; an absolute distance is NotSupported
    oco=Support.NATIVE,
    post_only=Support.NATIVE,
    quote_quantity_market=Support.NATIVE,
    private_stream=True,
    balance_stream=True,
    history_needs_symbol=True,
    client_order_ids=CLIENT_ORDER_IDS,
)


class BinanceTradingAdapter:
    exchange = EXCHANGE
    capabilities = CAPABILITIES

    def __init__(
        self,
        signer: RequestSigner,
        *,
        rest_base_url: str = REST_BASE,
        ws_api_url: str = WS_API_URL,
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
        retry_policy: RetryPolicy | None = None,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        breaker: CircuitBreaker | None = None,
        stale_after_s: float = 30.0,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
        watch_symbols: Iterable[str] = (),
        http_client: httpx.AsyncClient | None = None,
        queue_size: int = 10_000,
    ) -> None:
        self.signer = signer
        self.recv_window_ms = recv_window_ms
        self.health = StreamHealth(EXCHANGE, stale_after_s, label="binance-private")
        self.breaker = breaker or CircuitBreaker("binance-trading")
        self.limiter = WeightLimiter()
        self.rest = BinanceRest(
            rest_base_url,
            self.limiter,
            self.breaker,
            self.health,
            retry_policy or RetryPolicy(attempts=4, base_delay_s=0.2, max_delay_s=5.0),
            timeout_s,
            http_client,
        )
        self.clock = ServerClock(lambda: self.rest.get("/api/v3/time"))
        self.rest.on_clock_rejected = self.clock.invalidate
        self.stream = BinanceUserStream(
            ws_api_url,
            signer,
            self.clock.now_ms,
            self.clock.invalidate,
            self.health,
            reconnect_policy,
            recv_window_ms,
            probe_interval_s=max(0.1, min(30.0, stale_after_s / 3)),
            ping_interval_s=ping_interval_s,
            ping_timeout_s=ping_timeout_s,
        )
        self.state = PrivateState()
        self.watch_symbols = set(watch_symbols)
        self._symbols: SymbolMap | None = None
        self._rules: dict[str, InstrumentRules] = {}
        self.feed = PrivateFeed(EXCHANGE, self.state, self.health, queue_size)

    # -- signing and errors -------------------------------------------------------------------

    async def _prepare(self, method: str, path: str, params: Params) -> PreparedRequest:
        # The stamp goes into what is signed, so it is taken before the signer is asked; a
        # signer that took half the window (its first call for an account fetches the
        # credential and a token from auth; a loaded host) would send a stamp the venue
        # refuses (-1021) or nearly: stamped and signed again once, the signer warm by then.
        for _ in range(2):
            started = time.monotonic()
            timestamp = await self.clock.now_ms()
            query = urllib.parse.urlencode(
                {**params, "recvWindow": self.recv_window_ms, "timestamp": timestamp}
            )
            signed = await self.signer.sign(
                SigningRequest("binance-rest", {"payload": query}, purpose=f"{method} {path}")
            )
            if (time.monotonic() - started) * 1000 < self.recv_window_ms / 2:
                break
        return PreparedRequest(f"{query}&signature={signed.signature}", signed.headers)

    async def _signed(
        self,
        method: str,
        path: str,
        params: Params,
        *,
        once: bool = False,
        order_action: bool = False,
    ) -> Any:
        """A signed call; Binance's refusals in the platform's words. ``order_action``: a
        refusal is the order's (``OrderRejected``), not the caller's (``BadRequest``)."""
        try:
            if not once:  # reads: the REST loop's retry policy re-stamps each attempt
                return await self.rest.request(method, path, params, prepare=self._prepare)
            # A request sent once (a placement) is still sent a second time after -1021: the
            # venue refused it before its matching engine, so nothing was placed, and the
            # refusal made the clock measure the offset again before the retry stamps it.
            return await retry_async(
                lambda: self.rest.request(method, path, params, prepare=self._prepare, once=True),
                CLOCK_RETRY,
                retry_on=(ClockRejected,),
            )
        except BinanceApiError as exc:
            raise await self._translate(exc, order_action) from None

    async def _translate(self, exc: BinanceApiError, order_action: bool) -> ExchangeError:
        if exc.code is None and exc.status == 404:
            return NotSupported(EXCHANGE, f"the venue does not serve this: {exc}")
        if exc.code in wire.KEY_REFUSED:
            if order_action and exc.code == -2015 and await self._key_cannot_trade():
                return OrderRejected(
                    EXCHANGE,
                    RejectReason.PERMISSION_DENIED,
                    "the key may read but not trade",
                    venue_code=str(exc.code),
                )
            return CredentialRejected(EXCHANGE, str(exc).partition(": ")[2])
        if exc.code == -2013:
            return OrderNotFound(EXCHANGE, exc.msg)
        if order_action:
            return OrderRejected(
                EXCHANGE, wire.reject_reason(exc.code, exc.msg), exc.msg, venue_code=str(exc.code)
            )
        return exc

    async def _key_cannot_trade(self) -> bool:
        """Whether the key works but lacks the trading permission (else the key is refused)."""
        try:
            account = await self._signed("GET", "/api/v3/account", {"omitZeroBalances": "true"})
        except (CredentialRejected, BadRequest):
            return False
        return account.get("canTrade") is False

    # -- rules and symbols --------------------------------------------------------------------

    async def load_rules(self) -> dict[str, InstrumentRules]:
        info = await self.rest.get("/api/v3/exchangeInfo")
        self.limiter.configure(info)
        self._symbols = binance_symbol_map(info)
        self._rules = {}
        for entry in info.get("symbols", []):
            rules = wire.instrument_rules(entry)
            self._rules[rules.symbol] = rules
        return dict(self._rules)

    async def _symbol_map(self) -> SymbolMap:
        if self._symbols is None:
            await self.load_rules()
        assert self._symbols is not None
        return self._symbols

    async def _instrument(self, symbol: str) -> str:
        symbols = await self._symbol_map()
        try:
            return symbols.exchange_id(symbol)
        except KeyError:
            raise UnknownSymbol(EXCHANGE, f"unknown symbol {symbol!r}") from None

    # -- orders -------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        if not fits(request.client_order_id, CLIENT_ORDER_IDS):
            raise OrderRejected(
                EXCHANGE,
                RejectReason.INVALID_ORDER,
                "the client order id does not fit Binance's ^[a-zA-Z0-9-_]{1,36}$",
            )
        try:
            instrument = await self._instrument(request.symbol)
        except UnknownSymbol as exc:
            raise OrderRejected(EXCHANGE, RejectReason.UNKNOWN_SYMBOL, str(exc)) from None
        params = wire.order_params(request, instrument)
        body = await self._signed("POST", "/api/v3/order", params, once=True, order_action=True)
        placed = wire.order(body, await self._symbol_map())
        self.state.note(placed)
        return placed

    async def place_oco(self, request: OcoRequest) -> list[VenueOrder]:
        """``orderList/oco``, sent once like any placement; the legs as the venue reports them
        (the stop leg untriggered). Cancelling either leg cancels the list."""
        ids = (request.list_client_id, request.limit_client_order_id, request.stop_client_order_id)
        if not all(fits(i, CLIENT_ORDER_IDS) for i in ids):
            raise OrderRejected(
                EXCHANGE,
                RejectReason.INVALID_ORDER,
                "a client id of the list does not fit Binance's ^[a-zA-Z0-9-_]{1,36}$",
            )
        try:
            instrument = await self._instrument(request.symbol)
        except UnknownSymbol as exc:
            raise OrderRejected(EXCHANGE, RejectReason.UNKNOWN_SYMBOL, str(exc)) from None
        params = wire.oco_params(request, instrument)
        body = await self._signed(
            "POST", "/api/v3/orderList/oco", params, once=True, order_action=True
        )
        symbols = await self._symbol_map()
        legs = [wire.order(report, symbols) for report in body["orderReports"]]
        for leg in legs:
            self.state.note(leg)
        return legs

    async def cancel_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        params = {
            "symbol": await self._instrument(symbol),
            **wire.order_id_params(client_order_id, venue_order_id),
        }
        try:
            body = await self._signed("DELETE", "/api/v3/order", params, order_action=True)
        except OrderRejected as exc:
            if exc.venue_code != "-2011":
                raise
            # unknown, or closed already: what it is now (a cancel the caller repeats, or one
            # whose first answer was lost, is not an error)
            return await self.fetch_order(
                symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
            )
        canceled = wire.order(body, await self._symbol_map())
        self.state.note(canceled)
        return canceled

    async def amend_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> VenueOrder:
        if price is not None:
            raise NotSupported(
                EXCHANGE,
                "Binance amends only lower the quantity; change the price by cancel-replace",
            )
        if quantity is None:
            raise BadRequest(EXCHANGE, "an amend needs the new quantity")
        if client_order_id is None:  # sent back as newClientOrderId, else Binance draws one
            client_order_id = (
                await self.fetch_order(symbol, venue_order_id=venue_order_id)
            ).client_order_id
        params: dict[str, str] = {
            "symbol": await self._instrument(symbol),
            **wire.order_id_params(client_order_id, venue_order_id),
            "newQty": wire.wire_decimal(quantity),
        }
        if client_order_id is not None:
            params["newClientOrderId"] = client_order_id
        try:
            body = await self._signed(
                "PUT", "/api/v3/order/amend/keepPriority", params, order_action=True
            )
        except OrderRejected as exc:
            if exc.venue_code != "-2038":
                raise
            # -2038 says "quantity increase" only in its message: that change is not native
            if "increase" in str(exc):
                raise NotSupported(
                    EXCHANGE, "Binance amends only lower the quantity; cancel-replace"
                ) from None
            # "would change no state": a repeat of an amend whose answer was lost is done
            current = await self.fetch_order(
                symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
            )
            if current.quantity == quantity and current.status.is_open:
                return current
            raise
        amended = wire.order(body["amendedOrder"], await self._symbol_map())
        self.state.note(amended)
        return amended

    async def fetch_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        params = {
            "symbol": await self._instrument(symbol),
            **wire.order_id_params(client_order_id, venue_order_id),
        }
        found = wire.order(
            await self._signed("GET", "/api/v3/order", params), await self._symbol_map()
        )
        self.state.note(found)
        return found

    async def fetch_open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        params = {"symbol": await self._instrument(symbol)} if symbol is not None else {}
        rows = await self._signed("GET", "/api/v3/openOrders", params)
        symbols = await self._symbol_map()
        orders = [wire.order(row, symbols) for row in rows]
        for each in orders:
            self.state.note(each)
        return orders

    async def _orders_since(self, symbol: str, since: datetime, limit: int) -> list[VenueOrder]:
        params: dict[str, str | int] = {
            "symbol": await self._instrument(symbol),
            "startTime": _ms(since),
            "limit": limit,
        }
        rows = await self._signed("GET", "/api/v3/allOrders", params)
        symbols = await self._symbol_map()
        return [wire.order(row, symbols) for row in rows]

    async def fetch_closed_orders(
        self, symbol: str | None, since: datetime, limit: int | None = None
    ) -> list[VenueOrder]:
        """Orders created at or after ``since`` that are closed now (Binance's ``allOrders``
        filters on creation time)."""
        if symbol is None:
            raise NotSupported(EXCHANGE, "Binance keeps order history per symbol: name one")
        orders = await self._orders_since(symbol, since, _limit(limit))
        return [o for o in orders if not o.status.is_open]

    async def fetch_fills(
        self, symbol: str | None, cursor: FillCursor | None = None, limit: int | None = None
    ) -> FillPage:
        """Own fills after ``cursor`` (trade id and order id of the last one read), oldest first
        — from the first the venue keeps when None."""
        if symbol is None:
            raise NotSupported(EXCHANGE, "Binance keeps fills per symbol: name one")
        if cursor is not None and cursor.symbol != symbol:
            raise BadRequest(EXCHANGE, f"the cursor is for {cursor.symbol}, not {symbol}")
        after = _parse_cursor(cursor)
        params: dict[str, str | int] = {
            "symbol": await self._instrument(symbol),
            "fromId": after[0] if after else 0,  # inclusive: a self-trade's second side
            "limit": _limit(limit),
        }
        rows = await self._signed("GET", "/api/v3/myTrades", params)
        symbols = await self._symbol_map()
        rows.sort(key=lambda r: (int(r["id"]), int(r["orderId"])))
        fills = [
            wire.my_trade(row, symbols, self.state.client_ids)
            for row in rows
            if after is None or (int(row["id"]), int(row["orderId"])) > after
        ]
        if not fills:
            return FillPage([], cursor or FillCursor(symbol, ""))
        last = fills[-1]
        return FillPage(fills, FillCursor(symbol, f"{last.trade_id}:{last.venue_order_id}"))

    async def fetch_balances(self) -> list[AssetBalance]:
        account = await self._signed("GET", "/api/v3/account", {"omitZeroBalances": "true"})
        return wire.balances(account["balances"])

    # -- private stream -----------------------------------------------------------------------

    def private_events(self) -> AsyncIterator[PrivateEvent]:
        return self.feed.events(
            lambda: run_private_stream(self.stream, self, WANTED, self._symbol_map)
        )

    # UserDataHandler: called by the stream

    async def on_connected(self) -> None:
        await self.feed.connected(self._catch_up)

    def on_disconnected(self) -> None:
        self.feed.disconnected()

    async def on_event(self, event: dict[str, Any]) -> None:
        received = datetime.now(UTC)
        kind = event.get("e")
        try:
            if kind == "executionReport":
                try:
                    order, fill = wire.execution_report(event, await self._symbol_map())
                except KeyError:
                    await self.load_rules()  # a symbol listed since start-up
                    order, fill = wire.execution_report(event, await self._symbol_map())
                if fill is not None:
                    await self.feed.emit_fill(fill, received)
                await self.feed.emit_order(order, received)
            elif kind == "outboundAccountPosition":
                await self.feed.emit(wire.account_position(event, received))
        except (KeyError, ValueError, ArithmeticError, TypeError) as exc:
            self.health.error("parse", f"{kind}: {exc!r}")
            log.warning("unparseable binance user data event", extra={"event_type": kind})

    async def _catch_up(self, down_since: datetime) -> None:
        """What happened while the stream was down, from REST, through the same filters as
        live events: orders first (their client ids name the fills), fills, then balances."""
        received = datetime.now(UTC)
        since = down_since - CATCH_UP_MARGIN
        orders: list[VenueOrder] = await self.fetch_open_orders()
        open_ids = {o.venue_order_id for o in orders}
        for venue_id, symbol in list(self.state.open_orders.items()):
            if venue_id in open_ids:
                continue
            try:  # known open before: it filled, expired or was canceled meanwhile
                orders.append(await self.fetch_order(symbol, venue_order_id=venue_id))
            except OrderNotFound:
                self.state.open_orders.pop(venue_id, None)
        symbols = self.state.symbols | self.watch_symbols | {o.symbol for o in orders}
        for symbol in sorted(symbols):
            orders.extend(await self._orders_since(symbol, since, MAX_LIMIT))
        for each in orders:
            self.state.note(each)  # client ids for the fills below
        for symbol in sorted(symbols):
            for fill in await self._fills_since(symbol, since):
                await self.feed.emit_fill(fill, received)
        for each in sorted(orders, key=lambda o: o.update_key()):
            await self.feed.emit_order(each, received)
        await self.feed.emit_balance_snapshot(await self.fetch_balances(), received)

    async def _fills_since(self, symbol: str, since: datetime) -> list[VenueFill]:
        """Fills from the newest one delivered on ``symbol`` (inclusive; delivered ones are
        dropped again), or from ``since`` for a symbol without one, every page."""
        newest = self.state.newest_trade(symbol)
        instrument = await self._instrument(symbol)
        params: dict[str, str | int] = {"symbol": instrument, "limit": MAX_LIMIT}
        if newest is not None:
            params["fromId"] = newest
        else:
            params["startTime"] = _ms(since)
        symbols = await self._symbol_map()
        found: list[VenueFill] = []
        while True:
            rows = await self._signed("GET", "/api/v3/myTrades", params)
            found.extend(wire.my_trade(row, symbols, self.state.client_ids) for row in rows)
            if len(rows) < MAX_LIMIT:
                return found
            params = {"symbol": instrument, "limit": MAX_LIMIT, "fromId": int(rows[-1]["id"])}

    # -- health -------------------------------------------------------------------------------

    def status(self) -> StreamStatus:
        return self.health.status(self.breaker.is_open, self.limiter.headroom())

    async def close(self) -> None:
        await self.rest.aclose()


def _ms(when: datetime) -> int:
    if when.tzinfo is None:
        raise BadRequest(EXCHANGE, "times must be timezone-aware")
    return int(when.timestamp() * 1000)


def _limit(limit: int | None) -> int:
    if limit is None:
        return 500
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(EXCHANGE, f"limit must be 1..{MAX_LIMIT}, got {limit}")
    return limit


def _parse_cursor(cursor: FillCursor | None) -> tuple[int, int] | None:
    if cursor is None or not cursor.value:
        return None
    trade, _, order = cursor.value.partition(":")
    try:
        return int(trade), int(order or 0)
    except ValueError:
        raise BadRequest(EXCHANGE, f"not a Binance fill cursor: {cursor.value!r}") from None


def create_adapter(
    signer: RequestSigner,
    *,
    base_url: str | None = None,
    ws_base_url: str | None = None,
    **options: Any,
) -> BinanceTradingAdapter:
    """The registry's factory: ``base_url`` moves REST (and ``ws_base_url``, by default
    ``base_url`` with ``ws``/``wss``, the WebSocket API) to one host, e.g. the simulator."""
    if base_url is not None:
        options.setdefault("rest_base_url", base_url)
    ws_base = ws_base_url or (ws_url(base_url) if base_url is not None else None)
    if ws_base is not None:
        options.setdefault("ws_api_url", ws_base.rstrip("/") + "/ws-api/v3")
    return BinanceTradingAdapter(signer, **options)
