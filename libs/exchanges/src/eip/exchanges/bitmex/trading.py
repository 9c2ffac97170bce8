"""``TradingAdapter`` for BitMEX: signed REST (``/api/v1/order``, ``/execution/tradeHistory``,
``/user/margin``) for orders, fills and balances; the public ``/instrument/active`` for rules;
the realtime WebSocket's ``order``, ``execution`` and ``margin`` tables for the private stream.

Every private request is signed through a ``RequestSigner`` (the auth service, scheme
``bitmex-rest``): this adapter never holds the secret. What is subtle, in the order it bites:

- **Contracts, not base quantities.** ``orderQty`` counts contracts; for the spot and linear
  instruments traded here a contract is a fixed fraction of the base asset
  (``trading_wire.Contract``), so the contract's base quantities convert exactly both ways.
  Inverse and quanto contracts (``XBTUSD``: one contract is one USD) are not listed.
- **A placement is sent once.** A time-out, a reset connection or a 5xx after the request left
  is ``OutcomeUnknown``: look the order up by its client order id (``fetch_order``: ``GET
  /order`` filtered by ``clOrdID``; BitMEX keeps the account's orders, so ``OrderNotFound``
  proves it was never placed). A **503 "system is currently overloaded"** is BitMEX's load
  shedding: the request was refused before its engine queued it, so nothing was placed —
  ``OrderRejected(rate_limited)`` with a retry after 500 ms, as for a 429 (``Retry-After`` or
  ``x-ratelimit-reset``). Both are safe to send again with the same client order id.
- **Post-only that would take** is accepted and canceled at once by BitMEX (``Canceled: Order
  had execInst of ParticipateDoNotInitiate``): the adapter answers it as
  ``OrderRejected(post_only_would_take)`` — nothing rests and nothing filled.
- **Cancel is idempotent for the caller**: a closed order comes back as it is (BitMEX answers
  its row with an ``error``), an unknown one is ``OrderNotFound``. **Amend** (``PUT /order``)
  changes quantity (the new total) and price in place, keeping both ids; repeating an amend
  whose answer was lost answers with the order as amended.
- **History is account-wide.** ``GET /order`` with ``startTime`` filters on the order's last
  update, so ``fetch_closed_orders(since)`` lists orders that changed (and closed) since;
  fills are read oldest first behind a cursor of the last fill's time and the fills read at it.
- **Balances** are margin rows, one per currency, in the currency's smallest unit
  (``trading_wire.CURRENCY_UNITS``): free is what new orders may use, locked the rest of the
  wallet.
- **The private stream** reconnects by itself; after every reconnect it catches up over REST —
  open orders, the orders it knew open, orders changed and fills made since the connection was
  lost, the balances — emits what was missed (each order's updates only forward, each fill
  once) and then ``StreamResumed``.
"""

from __future__ import annotations

import contextlib
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson

from eip.exchanges.bitmex import trading_wire as wire
from eip.exchanges.bitmex.limits import RequestBudget
from eip.exchanges.bitmex.private_stream import WANTED, BitmexPrivateStream
from eip.exchanges.bitmex.rest import BitmexApiError, BitmexRest
from eip.exchanges.bitmex.trading_wire import CLIENT_ORDER_IDS, Contract
from eip.exchanges.bitmex.wire import EXCHANGE
from eip.exchanges.contract.client_order_ids import fits
from eip.exchanges.contract.errors import (
    BadRequest,
    CredentialRejected,
    ExchangeError,
    NotSupported,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    RejectReason,
    UnknownSymbol,
)
from eip.exchanges.contract.market_data import StreamStatus
from eip.exchanges.contract.signing import RequestSigner, SigningRequest
from eip.exchanges.contract.trading import (
    AmendSupport,
    AssetBalance,
    BalanceUpdate,
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
    VenueOrderStatus,
)
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.private_feed import PrivateFeed, run_private_stream
from eip.exchanges.machinery.private_state import PrivateState
from eip.exchanges.machinery.urls import ws_url
from eip.exchanges.machinery.venue_rest import Params, PreparedRequest
from eip.exchanges.machinery.venue_stream import RECONNECT_POLICY
from eip.resilience import CircuitBreaker, RetryPolicy

log = logging.getLogger(__name__)

REST_BASE = "https://www.bitmex.com"
WS_URL = "wss://ws.bitmex.com/realtime"
API = "/api/v1"
PAGE = 500  # BitMEX's largest ``count`` for /order and /execution/tradeHistory
AUTHENTICATED_PER_MINUTE = 120  # BitMEX's budget for authenticated requests
FORM = "application/x-www-form-urlencoded"
# A catch-up reads orders and fills from a little before the connection was lost: the venue's
# clock and ours differ, and an event in flight when it dropped is read again (and dropped).
CATCH_UP_MARGIN = timedelta(seconds=5)
_ORDER_FIELDS = ("symbol", "side", "ordStatus", "orderQty", "ordType")

CAPABILITIES = TradingCapabilities(
    amend=AmendSupport(
        quantity_down=Support.NATIVE, quantity_up=Support.NATIVE, price=Support.NATIVE
    ),
    stop=Support.NATIVE,  # Stop, StopLimit
    take_profit=Support.NATIVE,  # MarketIfTouched, LimitIfTouched
    trailing_stop=Support.NATIVE,  # pegPriceType TrailingStopPeg, by a price distance
    oco=Support.EMULATED,  # BitMEX retired contingent orders (OCO/OTO) in 2021
    post_only=Support.NATIVE,  # execInst ParticipateDoNotInitiate
    quote_quantity_market=Support.NONE,  # orders count contracts
    private_stream=True,
    balance_stream=True,
    history_needs_symbol=False,
    client_order_ids=CLIENT_ORDER_IDS,
)


def _unordered(_: str) -> int:
    """BitMEX trade ids are UUIDs: the catch-up reads fills by time instead."""
    return 0


class BitmexTradingAdapter:
    exchange = EXCHANGE
    capabilities = CAPABILITIES

    def __init__(
        self,
        signer: RequestSigner,
        *,
        rest_base_url: str = REST_BASE,
        ws_url: str = WS_URL,
        timeout_s: float = 10.0,
        retry_policy: RetryPolicy | None = None,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        breaker: CircuitBreaker | None = None,
        budget: RequestBudget | None = None,
        stale_after_s: float = 30.0,
        ping_after_s: float = 5.0,
        pong_timeout_s: float = 5.0,
        expires_after_s: int = 30,
        http_client: httpx.AsyncClient | None = None,
        queue_size: int = 10_000,
    ) -> None:
        self.signer = signer
        self.expires_after_s = expires_after_s
        self.health = StreamHealth(EXCHANGE, stale_after_s, label="bitmex-private")
        self.breaker = breaker or CircuitBreaker("bitmex-trading")
        self.budget = budget or RequestBudget(AUTHENTICATED_PER_MINUTE)
        self.rest = BitmexRest(
            rest_base_url,
            self.budget,
            self.breaker,
            self.health,
            retry_policy or RetryPolicy(attempts=4, base_delay_s=0.2, max_delay_s=5.0),
            timeout_s,
            http_client,
        )
        # the path BitMEX signs is the URL's, after any prefix of the base (a proxy's)
        self._path_prefix = urllib.parse.urlsplit(rest_base_url).path.rstrip("/")
        self.stream = BitmexPrivateStream(
            ws_url,
            signer,
            self.health,
            reconnect_policy,
            ping_after_s=ping_after_s,
            pong_timeout_s=pong_timeout_s,
            expires_after_s=expires_after_s,
        )
        self.state = PrivateState(trade_order=_unordered)
        self.feed = PrivateFeed(EXCHANGE, self.state, self.health, queue_size)
        self._contracts: dict[str, Contract] = {}  # venue symbol -> contract
        self._by_symbol: dict[str, Contract] = {}  # platform symbol -> contract
        self._rules: dict[str, InstrumentRules] = {}
        self._catching_up = False

    # -- signing and errors -------------------------------------------------------------------

    async def _prepare(self, method: str, path: str, params: Params) -> PreparedRequest:
        encoded = urllib.parse.urlencode(params)
        query, body = (encoded, "") if method == "GET" else ("", encoded)
        signed_path = self._path_prefix + path + (f"?{query}" if query else "")
        expires = str(int(time.time()) + self.expires_after_s)
        signed = await self.signer.sign(
            SigningRequest(
                "bitmex-rest",
                {"verb": method, "path": signed_path, "expires": expires, "body": body},
                purpose=f"{method} {path}",
            )
        )
        headers = dict(signed.headers)
        if body:
            headers["Content-Type"] = FORM
        return PreparedRequest(query, headers, body or None)

    async def _signed(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        *,
        once: bool = False,
        order_action: bool = False,
    ) -> Any:
        """A signed call; BitMEX's refusals in the platform's words. ``order_action``: a
        refusal is the order's (``OrderRejected``), not the caller's (``BadRequest``)."""
        try:
            return await self.rest.request(
                method, API + path, params or {}, prepare=self._prepare, once=once
            )
        except BitmexApiError as exc:
            raise _translate(exc, order_action) from None
        except RateLimited as exc:
            if not order_action:
                raise
            raise OrderRejected(
                EXCHANGE,
                RejectReason.RATE_LIMITED,
                str(exc),
                venue_code=type(exc).__name__,
                retry_after_s=exc.retry_after_s,
            ) from None

    # -- rules and symbols --------------------------------------------------------------------

    async def load_rules(self) -> dict[str, InstrumentRules]:
        rows = await self.rest.get(API + "/instrument/active")
        contracts: dict[str, Contract] = {}
        rules: dict[str, InstrumentRules] = {}
        for row in rows:
            found = wire.contract(row)
            if found is None:
                continue
            contracts[found.venue_symbol] = found
            rules[found.symbol] = wire.instrument_rules(row, found)
        self._contracts = contracts
        self._by_symbol = {c.symbol: c for c in contracts.values()}
        self._rules = rules
        return dict(rules)

    async def _contract_map(self) -> Mapping[str, Contract]:
        if not self._contracts:
            await self.load_rules()
        return self._contracts

    async def _contract(self, symbol: str) -> Contract:
        await self._contract_map()
        found = self._by_symbol.get(symbol)
        if found is None:
            raise UnknownSymbol(EXCHANGE, f"unknown symbol {symbol!r}")
        return found

    async def _orders(self, rows: list[dict[str, Any]]) -> list[VenueOrder]:
        contracts = await self._contract_map()
        out = []
        for row in rows:
            if str(row.get("symbol")) not in contracts:
                continue  # an inverse or quanto contract traded outside the platform
            found = wire.order(row, contracts)
            self.state.note(found)
            out.append(found)
        return out

    # -- orders -------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        found = await self._contract(request.symbol)
        if not fits(request.client_order_id, CLIENT_ORDER_IDS):
            raise OrderRejected(
                EXCHANGE, RejectReason.INVALID_ORDER, "client order id does not fit BitMEX's"
            )
        params = wire.order_params(request, found)
        row = await self._signed("POST", "/order", params, once=True, order_action=True)
        placed = (await self._orders([row]))[0]
        text = str(row.get("text") or "")
        if placed.status is VenueOrderStatus.CANCELED and text.startswith(wire.POST_ONLY_CANCELED):
            raise OrderRejected(EXCHANGE, RejectReason.POST_ONLY_WOULD_TAKE, text, venue_code=text)
        if placed.status is VenueOrderStatus.REJECTED:
            reason = str(row.get("ordRejReason") or text)
            raise OrderRejected(EXCHANGE, wire.reject_reason(reason), reason, venue_code=reason)
        return placed

    async def place_oco(self, request: OcoRequest) -> list[VenueOrder]:
        raise NotSupported(EXCHANGE, "BitMEX retired contingent (OCO) orders")

    def _order_ref(self, client_order_id: str | None, venue_order_id: str | None) -> dict[str, str]:
        if venue_order_id is not None:
            return {"orderID": venue_order_id}
        if client_order_id is not None:
            return {"clOrdID": client_order_id}
        raise BadRequest(EXCHANGE, "name the order by client_order_id or venue_order_id")

    async def cancel_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        await self._contract(symbol)
        params = self._order_ref(client_order_id, venue_order_id)
        try:
            rows = await self._signed("DELETE", "/order", params, order_action=True)
        except OrderNotFound:
            rows = []
        # a closed order comes back with an "error" ("Unable to cancel order due to existing
        # state: Filled"): it is what it is now
        found = await self._orders([r for r in rows or [] if r.get("ordStatus")])
        if found:
            return found[0]
        return await self.fetch_order(
            symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
        )

    async def amend_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> VenueOrder:
        """``PUT /order``: the new total quantity and/or limit price, in place."""
        if quantity is None and price is None:
            raise BadRequest(EXCHANGE, "an amend changes the quantity, the price or both")
        found = await self._contract(symbol)
        params = self._order_ref(client_order_id, venue_order_id)
        if "clOrdID" in params:
            params = {"origClOrdID": params["clOrdID"]}
        if quantity is not None:
            params["orderQty"] = str(found.to_contracts(quantity))
        if price is not None:
            params["price"] = wire.wire_decimal(price)
        try:
            row = await self._signed("PUT", "/order", params, order_action=True)
        except (OrderRejected, OrderNotFound) as exc:
            # a repeat of an amend whose answer was lost changes nothing: it is done
            current = await self.fetch_order(
                symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
            )
            if (
                current.status.is_open
                and (quantity is None or current.quantity == quantity)
                and (price is None or current.price == price)
            ):
                return current
            if isinstance(exc, OrderNotFound):
                raise OrderRejected(
                    EXCHANGE,
                    RejectReason.ORDER_NOT_AMENDABLE,
                    f"the order is {current.status.value}",
                ) from None
            raise
        return (await self._orders([row]))[0]

    async def fetch_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        found = await self._contract(symbol)
        ref = self._order_ref(client_order_id, venue_order_id)
        params = {
            "symbol": found.venue_symbol,
            "filter": _json(ref),
            "count": "1",
            "reverse": "true",
        }
        orders = await self._orders(await self._signed("GET", "/order", params))
        if not orders:
            raise OrderNotFound(EXCHANGE, f"no order {ref}")
        return orders[0]

    async def _pages(self, path: str, params: dict[str, str]) -> list[Any]:
        """Every row of a paged GET (``count``/``start``)."""
        rows: list[Any] = []
        while True:
            page = await self._signed(
                "GET", path, {**params, "count": str(PAGE), "start": str(len(rows))}
            )
            rows.extend(page)
            if len(page) < PAGE:
                return rows

    async def fetch_open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        params = {"filter": _json({"open": True}), "reverse": "false"}
        if symbol is not None:
            params["symbol"] = (await self._contract(symbol)).venue_symbol
        return await self._orders(await self._pages("/order", params))

    async def fetch_closed_orders(
        self, symbol: str | None, since: datetime, limit: int | None = None
    ) -> list[VenueOrder]:
        params = {"startTime": _iso(since), "reverse": "false"}
        if symbol is not None:
            params["symbol"] = (await self._contract(symbol)).venue_symbol
        orders = await self._orders(await self._pages("/order", params))
        closed = [o for o in orders if not o.status.is_open]
        return closed if limit is None else closed[:limit]

    async def fetch_fills(
        self, symbol: str | None, cursor: FillCursor | None = None, limit: int | None = None
    ) -> FillPage:
        after = _parse_cursor(cursor)
        since, read = after if after is not None else (datetime(2014, 1, 1, tzinfo=UTC), None)
        fills = await self._fills_since(symbol, since, _limit(limit), read)
        if not fills:
            return FillPage([], cursor or FillCursor(symbol, ""))
        last = fills[-1].time
        same = {(f.trade_id, f.venue_order_id) for f in fills if f.time == last}
        if after is not None and after[0] == last:
            same |= after[1]
        return FillPage(fills, _cursor(symbol, last, same))

    async def _fills_since(
        self,
        symbol: str | None,
        since: datetime,
        wanted: int | None,
        read: set[tuple[str, str]] | None = None,
    ) -> list[VenueFill]:
        """Fills from ``since`` on, up to ``wanted``; past a cursor (``read`` given) only those
        after it: later than ``since``, or at ``since`` and not yet ``read``.

        Pages are read until that many *fills*, not rows: a page of trade history can hold no
        trade at all (funding every 8 hours on each position, settlements), and counting rows
        ended the read there with the cursor unmoved — the fills after a page of funding rows
        were never returned."""
        params = {"startTime": _iso(since), "reverse": "false"}
        if symbol is not None:
            params["symbol"] = (await self._contract(symbol)).venue_symbol
        contracts = await self._contract_map()
        fills: list[VenueFill] = []
        start = 0
        while wanted is None or len(fills) < wanted:
            page = await self._signed(
                "GET",
                "/execution/tradeHistory",
                {**params, "count": str(PAGE), "start": str(start)},
            )
            start += len(page)
            for row in page:
                if str(row.get("symbol")) not in contracts:
                    continue
                fill = wire.execution(row, contracts)
                if fill is None:
                    continue
                if read is not None and (
                    fill.time < since
                    or (fill.time == since and (fill.trade_id, fill.venue_order_id) in read)
                ):
                    continue
                fills.append(self._with_client_id(fill))
            if len(page) < PAGE:
                break
        return fills if wanted is None else fills[:wanted]

    def _with_client_id(self, fill: VenueFill) -> VenueFill:
        if fill.client_order_id is not None:
            return fill
        return replace(fill, client_order_id=self.state.client_ids.get(fill.venue_order_id))

    async def fetch_balances(self) -> list[AssetBalance]:
        rows = await self._signed("GET", "/user/margin", {"currency": "all"})
        balances = [wire.margin_balance(row) for row in rows]
        return [b for b in balances if b is not None]

    # -- private stream -----------------------------------------------------------------------

    def private_events(self) -> AsyncIterator[PrivateEvent]:
        return self.feed.events(
            lambda: run_private_stream(
                self.stream,
                self,
                WANTED,
                self._contract_map,
                subscribed=lambda: not self._catching_up,  # a catch-up leaves the socket unread
            )
        )

    # PrivateHandler: called by the stream

    async def on_connected(self) -> None:
        await self.feed.connected(self._catch_up_unread)

    async def _catch_up_unread(self, down_since: datetime) -> None:
        self._catching_up = True
        try:
            await self._catch_up(down_since)
        finally:
            self._catching_up = False

    def on_disconnected(self) -> None:
        self.feed.disconnected()

    async def on_table(self, table: str, action: str, rows: list[dict[str, Any]]) -> None:
        received = datetime.now(UTC)
        if table == "margin":
            balances = [b for b in map(wire.margin_balance, rows) if b is not None]
            if not balances and action != "partial":
                return  # a currency whose unit this adapter does not know
            times = [t for t in map(wire.margin_time, rows) if t is not None]
            update = BalanceUpdate(
                EXCHANGE, balances, action == "partial", max(times, default=None), received
            )
            await self.feed.emit(update)
            return
        for row in rows:
            try:
                if table == "order":
                    order = await self._stream_order(row)
                    if order is not None:
                        await self.feed.emit_order(order, received)
                elif table == "execution":
                    fill = await self._stream_fill(row)
                    if fill is not None:
                        await self.feed.emit_fill(fill, received)
            except (KeyError, ValueError, ArithmeticError, TypeError) as exc:
                self.health.error("parse", f"{table}: {exc!r}")
                log.warning("unparseable bitmex row", extra={"table": table, "action": action})

    async def _stream_order(self, row: Mapping[str, Any]) -> VenueOrder | None:
        if any(row.get(name) is None for name in _ORDER_FIELDS):
            # an update of an order this connection's table never held in full: read it
            with contextlib.suppress(ExchangeError):
                contracts = await self._contract_map()
                symbol = contracts.get(str(row.get("symbol")))
                if symbol is not None:
                    return await self.fetch_order(symbol.symbol, venue_order_id=str(row["orderID"]))
            return None
        contracts = await self._contract_map()
        if str(row["symbol"]) not in contracts:
            await self.load_rules()  # an instrument listed since start-up
            contracts = await self._contract_map()
            if str(row["symbol"]) not in contracts:
                return None  # not a contract this adapter trades
        order = wire.order(row, contracts)
        if order.client_order_id is None and order.venue_order_id in self.state.client_ids:
            order = replace(order, client_order_id=self.state.client_ids[order.venue_order_id])
        return order

    async def _stream_fill(self, row: Mapping[str, Any]) -> VenueFill | None:
        contracts = await self._contract_map()
        if str(row.get("symbol")) not in contracts:
            return None
        fill = wire.execution(row, contracts)
        return None if fill is None else self._with_client_id(fill)

    async def _catch_up(self, down_since: datetime) -> None:
        """What happened while the stream was down, from REST, through the same filters as
        live events: orders first (their client ids name the fills), fills, then balances."""
        received = datetime.now(UTC)
        since = down_since - CATCH_UP_MARGIN
        orders = await self.fetch_open_orders()
        open_ids = {o.venue_order_id for o in orders}
        for venue_id, symbol in list(self.state.open_orders.items()):
            if venue_id in open_ids:
                continue
            try:  # known open before: it filled, expired or was canceled meanwhile
                orders.append(await self.fetch_order(symbol, venue_order_id=venue_id))
            except OrderNotFound:
                self.state.open_orders.pop(venue_id, None)
        orders.extend(await self.fetch_closed_orders(None, since))
        for fill in await self._fills_since(None, since, None):
            await self.feed.emit_fill(fill, received)
        for each in sorted(orders, key=lambda o: o.update_key()):
            await self.feed.emit_order(each, received)
        await self.feed.emit_balance_snapshot(await self.fetch_balances(), received)

    # -- health -------------------------------------------------------------------------------

    def status(self) -> StreamStatus:
        return self.health.status(self.breaker.is_open, self.budget.headroom())

    async def close(self) -> None:
        await self.rest.aclose()


def _translate(exc: BitmexApiError, order_action: bool) -> ExchangeError:
    message = exc.message
    if exc.status == 401 or message.startswith(wire.KEY_REFUSED):
        return CredentialRejected(EXCHANGE, message)
    if exc.status == 403:  # "Access Denied": a working key without this permission
        if order_action:
            return OrderRejected(
                EXCHANGE, RejectReason.PERMISSION_DENIED, message, venue_code=message
            )
        return CredentialRejected(EXCHANGE, message)
    if exc.status == 404 or message.startswith("Not Found"):
        return OrderNotFound(EXCHANGE, message)
    if order_action:
        return OrderRejected(EXCHANGE, wire.reject_reason(message), message, venue_code=message)
    if message.startswith("Invalid symbol"):
        return UnknownSymbol(EXCHANGE, message)
    return exc


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _iso(when: datetime) -> str:
    if when.tzinfo is None:
        raise BadRequest(EXCHANGE, "times must be timezone-aware")
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _limit(limit: int | None) -> int:
    if limit is None:
        return PAGE
    if not 1 <= limit <= 10 * PAGE:
        raise BadRequest(EXCHANGE, f"limit must be 1..{10 * PAGE}, got {limit}")
    return limit


def _cursor(symbol: str | None, last: datetime, same: set[tuple[str, str]]) -> FillCursor:
    ids = ",".join(sorted(f"{trade}/{order}" for trade, order in same))
    return FillCursor(symbol, f"{_iso(last)}|{ids}")


def _parse_cursor(cursor: FillCursor | None) -> tuple[datetime, set[tuple[str, str]]] | None:
    if cursor is None or not cursor.value:
        return None
    moment, _, ids = cursor.value.partition("|")
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(EXCHANGE, f"not a BitMEX fill cursor: {cursor.value!r}") from None
    pairs = [p.split("/", 1) for p in ids.split(",") if "/" in p]
    return parsed, {(a, b) for a, b in pairs}


def create_adapter(
    signer: RequestSigner,
    *,
    base_url: str | None = None,
    ws_base_url: str | None = None,
    **options: Any,
) -> BitmexTradingAdapter:
    """The registry's factory: ``base_url`` moves REST (and ``ws_base_url``, by default
    ``base_url`` with ``ws``/``wss``, the realtime WebSocket at ``/realtime``) to one host."""
    if base_url is not None:
        options.setdefault("rest_base_url", base_url)
    ws_base = ws_base_url or (ws_url(base_url) if base_url is not None else None)
    if ws_base is not None:
        options.setdefault("ws_url", ws_base.rstrip("/") + "/realtime")
    return BitmexTradingAdapter(signer, **options)
