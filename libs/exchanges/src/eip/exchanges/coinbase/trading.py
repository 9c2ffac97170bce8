"""``TradingAdapter`` for Coinbase Advanced Trade: REST ``/api/v3/brokerage`` for orders,
history, accounts and products; the WebSocket ``user`` channel for order updates, from which
fills and balance changes are derived.

Every private request carries its own ES256 JWT, signed through a ``RequestSigner`` (the auth
service, scheme ``coinbase-jwt`` over method, host and path): this adapter never holds the EC
key. What is subtle, in the order it bites:

- **A placement is sent once**; a time-out, reset or 5xx after it left is ``OutcomeUnknown``.
  Coinbase's ``client_order_id`` is an idempotency key: sending an id again places nothing and
  answers the order that id placed (``capabilities.idempotent_client_order_id``), so a
  resend with the same id after ``fetch_order`` found nothing is safe — but the adapter still
  never resends by itself.
- **Lookup by client order id.** Coinbase looks orders up by its own id only. The adapter
  remembers the ids of orders it placed or saw; for any other it scans the account's order
  history (newest first, the symbol's product only). The scan reads the whole history, so
  ``OrderNotFound`` after it proves the order was never placed.
- **An answer is an id, not an order.** ``POST orders``, ``batch_cancel`` and ``edit`` answer
  with success and ids; the adapter reads the order back (``orders/historical/{id}``) to
  return it. Should that read fail after a placement succeeded, the order is returned as
  requested (``open``, nothing filled) rather than an error that would say "not placed".
- **Cancel is idempotent** (``UNKNOWN_CANCEL_ORDER`` for a closed order answers with the
  order as it is). **Amend** is ``orders/edit``: price and size (the new total) of an open GTC
  limit order, in place (same ids); the queue place is kept only when the size goes down.
  An amend equal to the order as it stands is answered with the order (a repeat after a lost
  answer).
- **Errors**: ``success: false`` placements by ``preview_failure_reason`` / ``error``
  (``trading_wire.REJECTIONS``); ``401`` → ``CredentialRejected``; ``403 PERMISSION_DENIED``
  → ``OrderRejected(PERMISSION_DENIED)`` on an order action; ``429`` → rate limited.
- **The private stream.** The ``user`` channel sends each order as it stands (status,
  cumulative and leaves quantity, average price, fees) — no per-fill event and no balances.
  So: when an order's cumulative filled size grows, the adapter reads that order's fills
  (``orders/historical/fills?order_ids=``) and emits the new ones *before* the order update
  (a consumer that sees ``filled_quantity`` X has the fills that make X); and after a change
  of the account's orders it reads ``accounts`` and emits a balance snapshot. The order of an
  order's updates is the channel's ``sequence_num`` made to grow across connections
  (``user_stream.EPOCH``); REST answers carry no sequence. After every reconnect the adapter
  catches up over REST before ``StreamResumed``, as every adapter does.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson

from eip.exchanges.coinbase import trading_wire as wire
from eip.exchanges.coinbase.rest import CoinbaseApiError, CoinbaseRest
from eip.exchanges.coinbase.symbols import coinbase_product_id
from eip.exchanges.coinbase.trading_wire import CLIENT_ORDER_IDS
from eip.exchanges.coinbase.user_stream import EPOCH, WANTED, CoinbaseUserStream
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
    TransientExchangeError,
    UnknownSymbol,
)
from eip.exchanges.contract.market_data import StreamStatus
from eip.exchanges.contract.signing import RequestSigner, SigningRequest
from eip.exchanges.contract.trading import (
    AmendSupport,
    AssetBalance,
    FillCursor,
    FillPage,
    InstrumentRules,
    OcoRequest,
    OrderRequest,
    OrderType,
    OrderUpdate,
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
from eip.exchanges.machinery.venue_rest import PreparedRequest
from eip.exchanges.machinery.venue_stream import RECONNECT_POLICY
from eip.resilience import CircuitBreaker, RetryPolicy

log = logging.getLogger(__name__)

EXCHANGE = "coinbase"
REST_BASE = "https://api.coinbase.com"
WS_USER_URL = "wss://advanced-trade-ws-user.coinbase.com"
BROKERAGE = "/api/v3/brokerage"
PAGE = 1000  # orders and fills per page (Coinbase's maximum)
MAX_SCAN_PAGES = 100  # a client-id lookup reads at most this many pages of history
CATCH_UP_MARGIN = timedelta(seconds=5)
FILL_LAG_RETRIES = 5  # reads of an order's fills until they add up to its filled size
CLOSED = ("FILLED", "CANCELLED", "EXPIRED", "FAILED")
MAX_KNOWN = 100_000

CAPABILITIES = TradingCapabilities(
    amend=AmendSupport(
        quantity_down=Support.NATIVE, quantity_up=Support.NATIVE, price=Support.NATIVE
    ),
    stop=Support.NATIVE,  # stop-limit; a stop-market is emulated
    take_profit=Support.NATIVE,  # a stop-limit triggering the other way
    trailing_stop=Support.EMULATED,
    oco=Support.EMULATED,  # bracket orders are one order with one id: not an OcoRequest
    post_only=Support.NATIVE,
    quote_quantity_market=Support.NATIVE,
    private_stream=True,
    balance_stream=False,  # read over REST after order changes
    history_needs_symbol=False,
    idempotent_client_order_id=True,
    client_order_ids=CLIENT_ORDER_IDS,
)


def _never(_: str) -> int:
    """Coinbase's trade ids are not ordered: the catch-up reads fills by time instead."""
    return 0


class CoinbaseTradingAdapter:
    exchange = EXCHANGE
    capabilities = CAPABILITIES

    def __init__(
        self,
        signer: RequestSigner,
        *,
        rest_base_url: str = REST_BASE,
        ws_url: str = WS_USER_URL,
        timeout_s: float = 10.0,
        retry_policy: RetryPolicy | None = None,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        breaker: CircuitBreaker | None = None,
        stale_after_s: float = 30.0,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
        http_client: httpx.AsyncClient | None = None,
        queue_size: int = 10_000,
    ) -> None:
        self.signer = signer
        self.health = StreamHealth(EXCHANGE, stale_after_s, label="coinbase-private")
        self.breaker = breaker or CircuitBreaker("coinbase-trading")
        self.rest = CoinbaseRest(
            rest_base_url,
            self.breaker,
            self.health,
            retry_policy or RetryPolicy(attempts=4, base_delay_s=0.2, max_delay_s=5.0),
            timeout_s,
            http_client,
        )
        # what the JWT's uri names: the host (and port) requests go to
        self.host = httpx.URL(rest_base_url).netloc.decode()
        self.stream = CoinbaseUserStream(
            ws_url,
            signer,
            self.health,
            reconnect_policy,
            ping_interval_s=ping_interval_s,
            ping_timeout_s=ping_timeout_s,
        )
        self.state = PrivateState(trade_order=_never)
        self._symbols: dict[str, str] | None = None  # product id -> symbol
        self._rules: dict[str, InstrumentRules] = {}
        self._venue_ids: OrderedDict[str, str] = OrderedDict()  # client id -> venue id
        self._known: OrderedDict[str, tuple[Decimal | None, OrderType]] = OrderedDict()
        self._delivered: dict[str, tuple[Any, ...]] = {}
        self.feed = PrivateFeed(EXCHANGE, self.state, self.health, queue_size)
        self._balances_wanted = asyncio.Event()

    # -- signing and errors -------------------------------------------------------------------

    def _preparer(
        self, query: Sequence[tuple[str, str]], body: Any
    ) -> Callable[[str, str, Any], Awaitable[PreparedRequest]]:
        encoded = urllib.parse.urlencode(list(query))
        content = None if body is None else orjson.dumps(body).decode()

        async def prepare(method: str, path: str, _: Any) -> PreparedRequest:
            fields = {"method": method, "host": self.host, "path": path}
            signed = await self.signer.sign(
                SigningRequest("coinbase-jwt", fields, purpose=f"{method} {path}")
            )
            headers = dict(signed.headers)
            if content is not None:
                headers["Content-Type"] = "application/json"
            return PreparedRequest(encoded, headers, content)

        return prepare

    async def _signed(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        *,
        once: bool = False,
        order_action: bool = False,
        prefix: str = BROKERAGE,
    ) -> Any:
        """A signed call to ``prefix + path`` (Advanced Trade's ``BROKERAGE`` unless another
        API of the same host and key: ``/v2``); Coinbase's refusals in the platform's words.
        ``order_action``: a refusal is the order's (``OrderRejected``)."""
        try:
            return await self.rest.request(
                method, prefix + path, prepare=self._preparer(query, body), once=once
            )
        except CoinbaseApiError as exc:
            raise self._translate(exc, order_action) from None
        except RateLimited as exc:
            if order_action and once:  # refused before the matching engine: not placed
                raise OrderRejected(
                    EXCHANGE,
                    RejectReason.RATE_LIMITED,
                    str(exc),
                    venue_code="429",
                    retry_after_s=exc.retry_after_s,
                ) from None
            raise

    def _translate(self, exc: CoinbaseApiError, order_action: bool) -> ExchangeError:
        if exc.status == 403 or exc.error == "PERMISSION_DENIED":
            if order_action:
                return OrderRejected(
                    EXCHANGE,
                    RejectReason.PERMISSION_DENIED,
                    "the key may read but not trade",
                    venue_code=exc.error or "403",
                )
            return CredentialRejected(EXCHANGE, str(exc))
        if exc.status == 404 and exc.error == "NOT_FOUND":
            return OrderNotFound(EXCHANGE, exc.message)
        if exc.status == 404:
            return NotSupported(EXCHANGE, f"the venue does not serve this: {exc}")
        if order_action:
            reason, code = wire.reject_reason(exc.error)
            return OrderRejected(EXCHANGE, reason, exc.message, venue_code=code)
        return exc

    # -- rules and symbols --------------------------------------------------------------------

    async def load_rules(self) -> dict[str, InstrumentRules]:
        body = await self.rest.get(BROKERAGE + "/market/products", {"product_type": "SPOT"})
        symbols: dict[str, str] = {}
        rules: dict[str, InstrumentRules] = {}
        for product in body.get("products", []):
            if product.get("product_type", "SPOT") != "SPOT":
                continue
            each = wire.instrument_rules(product)
            symbols[product["product_id"]] = each.symbol
            rules[each.symbol] = each
        self._symbols, self._rules = symbols, rules
        return dict(rules)

    async def _symbol_map(self) -> dict[str, str]:
        if self._symbols is None:
            await self.load_rules()
        assert self._symbols is not None
        return self._symbols

    async def _product(self, symbol: str) -> str:
        try:
            product = coinbase_product_id(symbol)
        except ValueError:
            raise UnknownSymbol(EXCHANGE, f"not a BASE/QUOTE symbol: {symbol!r}") from None
        if product not in await self._symbol_map():
            raise UnknownSymbol(EXCHANGE, f"unknown symbol {symbol!r}")
        return product

    async def _parse_order(self, body: dict[str, Any]) -> VenueOrder:
        try:
            return wire.order(body, await self._symbol_map())
        except KeyError:
            await self.load_rules()  # a product listed since start-up
            return wire.order(body, await self._symbol_map())

    def _remember(self, order: VenueOrder) -> VenueOrder:
        """What later lookups and the ``user`` channel need of an order: its ids, size and
        type."""
        self.state.note(order)
        if order.client_order_id is not None:
            self._venue_ids[order.client_order_id] = order.venue_order_id
            self._venue_ids.move_to_end(order.client_order_id)
        known = self._known.get(order.venue_order_id)
        size = order.quantity if order.quantity is not None else (known[0] if known else None)
        self._known[order.venue_order_id] = (size, order.type)
        self._known.move_to_end(order.venue_order_id)
        for table in (self._venue_ids, self._known):
            while len(table) > MAX_KNOWN:
                table.popitem(last=False)
        return order

    # -- orders -------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        if not fits(request.client_order_id, CLIENT_ORDER_IDS):
            raise OrderRejected(
                EXCHANGE,
                RejectReason.INVALID_ORDER,
                "the client order id is not a UUID (what the platform sends Coinbase)",
            )
        try:
            product = await self._product(request.symbol)
        except UnknownSymbol as exc:
            raise OrderRejected(EXCHANGE, RejectReason.UNKNOWN_SYMBOL, str(exc)) from None
        body = {
            "client_order_id": request.client_order_id,
            "product_id": product,
            "side": request.side.upper(),
            "order_configuration": wire.order_configuration(request),
        }
        answer = await self._signed("POST", "/orders", body=body, once=True, order_action=True)
        if not answer.get("success"):
            raise wire.refusal(answer.get("error_response") or {})
        venue_id = str(answer.get("order_id") or answer["success_response"]["order_id"])
        self._venue_ids[request.client_order_id] = venue_id
        try:
            placed = await self._order_by_id(venue_id)
        except (TransientExchangeError, OrderNotFound) as exc:
            # placed for sure: say so, as requested, rather than an error meaning "not placed"
            log.warning("coinbase placement read back failed", extra={"error": str(exc)})
            placed = _as_requested(request, venue_id)
        return self._remember(placed)

    async def place_oco(self, request: OcoRequest) -> list[VenueOrder]:
        raise NotSupported(
            EXCHANGE,
            "Coinbase brackets are one order under one id, not an OCO of two: the platform "
            "emulates one-cancels-the-other",
        )

    async def _order_by_id(self, venue_order_id: str) -> VenueOrder:
        body = await self._signed("GET", f"/orders/historical/{venue_order_id}")
        return await self._parse_order(body["order"])

    async def _venue_id(
        self, symbol: str, client_order_id: str | None, venue_order_id: str | None
    ) -> str:
        if venue_order_id is not None:
            return venue_order_id
        if client_order_id is None:
            raise BadRequest(EXCHANGE, "name the order by client_order_id or venue_order_id")
        known = self._venue_ids.get(client_order_id)
        if known is not None:
            return known
        found = await self._scan_for(symbol, client_order_id)
        if found is None:
            raise OrderNotFound(EXCHANGE, f"no order with client order id {client_order_id}")
        return found.venue_order_id

    async def _scan_for(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """The order with this client id in the account's whole history of the product."""
        product = await self._product(symbol)
        cursor = ""
        for _ in range(MAX_SCAN_PAGES):
            query = [("product_ids", product), ("limit", str(PAGE))]
            if cursor:
                query.append(("cursor", cursor))
            body = await self._signed("GET", "/orders/historical/batch", query)
            for row in body.get("orders", []):
                if row.get("client_order_id") == client_order_id:
                    return self._remember(await self._parse_order(row))
            cursor = body.get("cursor") or ""
            if not body.get("has_next") or not cursor:
                return None
        raise TransientExchangeError(
            EXCHANGE, f"client order id lookup stopped after {MAX_SCAN_PAGES * PAGE} orders"
        )

    async def fetch_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        await self._product(symbol)
        venue_id = await self._venue_id(symbol, client_order_id, venue_order_id)
        found = await self._order_by_id(venue_id)
        if client_order_id is not None and found.client_order_id != client_order_id:
            raise OrderNotFound(EXCHANGE, f"order {venue_id} has another client order id")
        return self._remember(found)

    async def cancel_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        await self._product(symbol)
        venue_id = await self._venue_id(symbol, client_order_id, venue_order_id)
        answer = await self._signed(
            "POST", "/orders/batch_cancel", body={"order_ids": [venue_id]}, order_action=True
        )
        results = answer.get("results") or [{}]
        outcome = results[0]
        if not outcome.get("success"):
            reason = str(outcome.get("failure_reason", ""))
            if reason not in (
                "UNKNOWN_CANCEL_ORDER",
                "ORDER_NOT_FOUND",
                "DUPLICATE_CANCEL_REQUEST",
            ):
                code, _ = wire.reject_reason(reason)
                raise OrderRejected(EXCHANGE, code, f"cancel refused: {reason}", venue_code=reason)
            # unknown, or closed already: what it is now (raises OrderNotFound for unknown)
        return await self.fetch_order(
            symbol, client_order_id=client_order_id, venue_order_id=venue_id
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
        if quantity is None and price is None:
            raise BadRequest(EXCHANGE, "an amend needs a new quantity or price")
        current = await self.fetch_order(
            symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
        )
        size = quantity if quantity is not None else current.quantity
        limit = price if price is not None else current.price
        if size is None or limit is None or current.type is OrderType.MARKET:
            raise OrderRejected(
                EXCHANGE, RejectReason.ORDER_NOT_AMENDABLE, "only limit orders are edited"
            )
        if size == current.quantity and limit == current.price and current.status.is_open:
            return current  # a repeat of an amend whose answer was lost: done
        body = {
            "order_id": current.venue_order_id,
            "size": wire.wire_decimal(size),
            "price": wire.wire_decimal(limit),
        }
        answer = await self._signed("POST", "/orders/edit", body=body, order_action=True)
        if not answer.get("success"):
            errors = answer.get("errors") or [{}]
            edit_reason = str(errors[0].get("edit_failure_reason", ""))
            preview = str(errors[0].get("preview_failure_reason", ""))
            if edit_reason == "ORDER_NOT_FOUND":
                raise OrderNotFound(EXCHANGE, f"order {current.venue_order_id} not found")
            reason, code = wire.reject_reason(preview, edit_reason)
            raise OrderRejected(EXCHANGE, reason, f"edit refused: {code}", venue_code=code)
        amended = await self._order_by_id(current.venue_order_id)
        return self._remember(amended)

    async def _list_orders(
        self, query: list[tuple[str, str]], limit: int | None = None
    ) -> list[VenueOrder]:
        """Every page of ``orders/historical/batch`` (newest first), up to ``limit``."""
        await self._symbol_map()  # what the orders are parsed with, before the first page
        found: list[VenueOrder] = []
        cursor = ""
        while True:
            page = [*query, ("limit", str(PAGE))]
            if cursor:
                page.append(("cursor", cursor))
            body = await self._signed("GET", "/orders/historical/batch", page)
            for row in body.get("orders", []):
                found.append(self._remember(await self._parse_order(row)))
            cursor = body.get("cursor") or ""
            if not body.get("has_next") or not cursor or (limit and len(found) >= limit):
                return found[:limit] if limit else found

    async def fetch_open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        query = [("order_status", "OPEN")]
        if symbol is not None:
            query.append(("product_ids", await self._product(symbol)))
        return await self._list_orders(query)

    async def fetch_closed_orders(
        self, symbol: str | None, since: datetime, limit: int | None = None
    ) -> list[VenueOrder]:
        """Orders created at or after ``since`` that are closed now (Coinbase's
        ``start_date`` filters on creation time)."""
        if limit is not None and not 1 <= limit <= PAGE:
            raise BadRequest(EXCHANGE, f"limit must be 1..{PAGE}, got {limit}")
        query = [("order_status", status) for status in CLOSED]
        query.append(("start_date", wire.rfc3339(_aware(since))))
        if symbol is not None:
            query.append(("product_ids", await self._product(symbol)))
        return await self._list_orders(query, limit)

    async def _fills(self, query: list[tuple[str, str]]) -> list[VenueFill]:
        """Every page of ``orders/historical/fills``, oldest first."""
        symbols = await self._symbol_map()
        rows: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = [*query, ("limit", str(PAGE))]
            if cursor:
                page.append(("cursor", cursor))
            body = await self._signed("GET", "/orders/historical/fills", page)
            rows.extend(body.get("fills", []))
            cursor = body.get("cursor") or ""
            if not cursor or not body.get("fills"):
                break
        fills = [wire.fill(row, symbols, self.state.client_ids) for row in rows]
        fills.sort(key=_fill_key)
        return fills

    async def fetch_fills(
        self, symbol: str | None, cursor: FillCursor | None = None, limit: int | None = None
    ) -> FillPage:
        """Own fills after ``cursor``, oldest first. Coinbase pages fills newest first and its
        trade ids are not ordered, so the cursor is the last fill's time and the fills read at
        that time (a later read repeats that instant and drops them)."""
        if cursor is not None and cursor.symbol != symbol:
            raise BadRequest(EXCHANGE, f"the cursor is for {cursor.symbol}, not {symbol}")
        if limit is not None and not 1 <= limit <= PAGE:
            raise BadRequest(EXCHANGE, f"limit must be 1..{PAGE}, got {limit}")
        after = _parse_cursor(cursor)
        query: list[tuple[str, str]] = []
        if symbol is not None:
            query.append(("product_ids", await self._product(symbol)))
        if after is not None:
            query.append(("start_sequence_timestamp", wire.rfc3339(after[0])))
        fills = [
            f
            for f in await self._fills(query)
            if after is None
            or f.time > after[0]
            or (f.time == after[0] and (f.trade_id, f.venue_order_id) not in after[1])
        ]
        if limit is not None:
            fills = fills[:limit]
        if not fills:
            return FillPage([], cursor or FillCursor(symbol, ""))
        last = fills[-1].time
        same = {(f.trade_id, f.venue_order_id) for f in fills if f.time == last}
        if after is not None and after[0] == last:
            same |= after[1]
        return FillPage(fills, _cursor(symbol, last, same))

    async def fetch_balances(self) -> list[AssetBalance]:
        out: list[AssetBalance] = []
        cursor = ""
        while True:
            query = [("limit", "250")]
            if cursor:
                query.append(("cursor", cursor))
            body = await self._signed("GET", "/accounts", query)
            out.extend(wire.balances(body.get("accounts", [])))
            cursor = body.get("cursor") or ""
            if not body.get("has_next") or not cursor:
                return out

    # -- private stream -----------------------------------------------------------------------

    def private_events(self) -> AsyncIterator[PrivateEvent]:
        return self.feed.events(
            lambda: run_private_stream(
                self.stream, self, WANTED, self._symbol_map, helpers=[self._balances_loop]
            )
        )

    async def _balances_loop(self) -> None:
        """A balance snapshot after changes of the account's orders (the ``user`` channel has
        no balances); changes while one is read make one more read, not one each. Nothing is
        delivered while the stream is down (the catch-up's snapshot follows the reconnect)."""
        while True:
            await self._balances_wanted.wait()
            self._balances_wanted.clear()
            try:
                balances = await self.fetch_balances()
            except CredentialRejected:
                return  # the stream ends with it on its next subscribe
            except ExchangeError as exc:
                self.health.error("rest", f"balances not read: {exc}")
                await asyncio.sleep(0.5)
                self._balances_wanted.set()
                continue
            if not self.health.connected:
                # the stream went down meanwhile: its catch-up reads the balances again, and
                # nothing is delivered while it is down
                continue
            await self.feed.emit_balance_snapshot(balances)

    async def _emit_order(self, order: VenueOrder, received: datetime) -> None:
        """Deliver an update unless it repeats or goes back on what was delivered: a REST
        snapshot of the catch-up and the channel's own snapshot say the same thing twice."""
        content = (
            order.status,
            order.filled_quantity,
            order.quantity,
            order.price,
            order.stop_price,
        )
        last = self._delivered.get(order.venue_order_id)
        if last is not None and (
            last == content or order.filled_quantity < last[1] or order.status.rank < last[0].rank
        ):
            return
        if self.state.admit_order(order):
            self._delivered[order.venue_order_id] = content
            while len(self._delivered) > MAX_KNOWN:
                self._delivered.pop(next(iter(self._delivered)))
            self._remember(order)
            await self.feed.emit(OrderUpdate(order, received))

    # UserHandler: called by the stream

    async def on_connected(self) -> None:
        await self.feed.connected(self._catch_up)

    def on_disconnected(self) -> None:
        self.feed.disconnected()

    async def on_user(self, events: list[dict[str, Any]], position: int) -> None:
        received = datetime.now(UTC)
        symbols = await self._symbol_map()
        changed = False
        for event in events:
            for raw in event.get("orders") or []:
                try:
                    if raw.get("product_id") not in symbols:
                        await self.load_rules()  # a product listed since start-up
                        symbols = await self._symbol_map()
                    known = self._known.get(str(raw.get("order_id")))
                    order = wire.user_order(
                        raw,
                        symbols,
                        position,
                        known[0] if known else None,
                        known[1] if known else None,
                        received,
                    )
                except (KeyError, ValueError, ArithmeticError, TypeError) as exc:
                    self.health.error("parse", f"user order: {exc!r}")
                    log.warning("unparseable coinbase user order")
                    continue
                await self._fills_of(order, received)
                await self._emit_order(order, received)
                changed = True
        if changed:
            self._balances_wanted.set()

    async def _fills_of(self, order: VenueOrder, received: datetime) -> None:
        """The order's fills not delivered yet, when its filled size grew (the channel has
        no fill events). A venue that lists a fill a moment after the order shows it is read
        again a few times; a read that fails replaces the connection (the catch-up finds
        them)."""
        last = self._delivered.get(order.venue_order_id)
        if order.filled_quantity <= (last[1] if last is not None else Decimal(0)):
            return
        for attempt in range(FILL_LAG_RETRIES):
            fills = await self._fills([("order_ids", order.venue_order_id)])
            if sum((f.quantity for f in fills), Decimal(0)) >= order.filled_quantity:
                break
            await asyncio.sleep(0.05 * (attempt + 1))
        for fill in fills:
            await self.feed.emit_fill(fill, received)

    async def _catch_up(self, down_since: datetime) -> None:
        """What happened while the stream was down, from REST, through the same filters as
        live events: orders noted first (their client ids name the fills), fills, orders in
        the order of their updates, then balances. The catch-up's orders take the new
        connection's first position: after everything of the old one, before its live
        messages."""
        received = datetime.now(UTC)
        since = down_since - CATCH_UP_MARGIN
        orders = await self.fetch_open_orders()
        open_ids = {o.venue_order_id for o in orders}
        for venue_id in list(self.state.open_orders):
            if venue_id in open_ids:
                continue
            try:  # known open before: it filled, expired or was canceled meanwhile
                orders.append(await self._order_by_id(venue_id))
            except OrderNotFound:
                self.state.open_orders.pop(venue_id, None)
        orders.extend(await self._list_orders([("start_date", wire.rfc3339(since))], limit=None))
        position = self.stream.epoch * EPOCH
        for each in orders:
            self._remember(each)
        fills = await self._fills([("start_sequence_timestamp", wire.rfc3339(since))])
        for fill in fills:
            await self.feed.emit_fill(_with_client_id(fill, self.state.client_ids), received)
        latest: dict[str, VenueOrder] = {}
        for each in orders:
            seen = latest.get(each.venue_order_id)
            if seen is None or each.update_key() > seen.update_key():
                latest[each.venue_order_id] = each
        for each in sorted(latest.values(), key=lambda o: (o.filled_quantity, o.status.rank)):
            await self._emit_order(_at(each, position), received)
        await self.feed.emit_balance_snapshot(await self.fetch_balances(), received)

    # -- health -------------------------------------------------------------------------------

    def status(self) -> StreamStatus:
        return self.health.status(self.breaker.is_open, None)

    async def close(self) -> None:
        await self.rest.aclose()


def _at(order: VenueOrder, position: int) -> VenueOrder:
    return replace(order, sequence=position)


def _with_client_id(fill: VenueFill, client_ids: Mapping[str, str]) -> VenueFill:
    if fill.client_order_id is not None:
        return fill
    return replace(fill, client_order_id=client_ids.get(fill.venue_order_id))


def _as_requested(request: OrderRequest, venue_order_id: str) -> VenueOrder:
    return VenueOrder(
        exchange=EXCHANGE,
        symbol=request.symbol,
        venue_order_id=venue_order_id,
        client_order_id=request.client_order_id,
        side=request.side,
        type=request.type,
        status=VenueOrderStatus.OPEN,
        quantity=request.quantity,
        filled_quantity=Decimal(0),
        price=request.price,
        stop_price=request.stop_price,
        time_in_force=request.time_in_force,
    )


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise BadRequest(EXCHANGE, "times must be timezone-aware")
    return when


def _fill_key(fill: VenueFill) -> tuple[datetime, str, str]:
    return (fill.time, fill.trade_id, fill.venue_order_id)


def _cursor(symbol: str | None, last: datetime, same: set[tuple[str, str]]) -> FillCursor:
    ids = ",".join(sorted(f"{trade}/{order}" for trade, order in same))
    return FillCursor(symbol, f"{wire.rfc3339(last)}|{ids}")


def _parse_cursor(cursor: FillCursor | None) -> tuple[datetime, set[tuple[str, str]]] | None:
    if cursor is None or not cursor.value:
        return None
    moment, _, ids = cursor.value.partition("|")
    parsed = wire.when(moment)
    if parsed is None:
        raise BadRequest(EXCHANGE, f"not a Coinbase fill cursor: {cursor.value!r}")
    pairs = {tuple(p.split("/", 1)) for p in ids.split(",") if "/" in p}
    return parsed, {(a, b) for a, b in pairs}


def create_adapter(
    signer: RequestSigner,
    *,
    base_url: str | None = None,
    ws_base_url: str | None = None,
    **options: Any,
) -> CoinbaseTradingAdapter:
    """The trading adapter of one Coinbase account; ``base_url`` moves REST (and the ``user``
    channel, served at ``/coinbase/ws`` there, e.g. by the simulator) to another host."""
    if base_url is None:
        return CoinbaseTradingAdapter(signer, **options)
    rest = base_url.rstrip("/")
    ws_origin = ws_base_url or rest.replace("https://", "wss://").replace("http://", "ws://")
    return CoinbaseTradingAdapter(
        signer, rest_base_url=rest, ws_url=ws_origin.rstrip("/") + "/coinbase/ws", **options
    )
