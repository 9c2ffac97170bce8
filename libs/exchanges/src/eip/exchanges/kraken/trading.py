"""``TradingAdapter`` for Kraken spot: signed private REST for orders, history, balances; the
public ``AssetPairs`` for rules; the authenticated WebSocket v2 (``executions``, ``balances``)
for order updates, fills and balance changes.

Every private call is signed through a ``RequestSigner`` (the auth service, scheme
``kraken-rest``): this adapter never holds the secret. What is subtle, in the order it bites:

- **A placement is sent once.** No retry, whatever happens. A time-out, a reset connection, a
  5xx or ``EService:Deadline elapsed`` after the request left is ``OutcomeUnknown``: look the
  order up by its client order id (``fetch_order``: ``OpenOrders`` then ``ClosedOrders``
  filtered by ``cl_ord_id``, which Kraken keeps for closed orders too, so ``OrderNotFound``
  proves it was never placed). ``EAPI:Invalid nonce`` and ``EAPI:Rate limit exceeded`` refuse
  before anything is done: safe to send again with the same client order id.
- **One private call at a time.** Kraken refuses a nonce not above the key's last, and a
  signature through the auth service takes a while: two calls in flight could arrive out of
  nonce order. The adapter serializes its private calls (nonce, signature, answer), and paces
  them by Kraken's API counter (``rest.ApiCounter``). One key, one adapter: two adapters on one
  key race each other's nonces (Kraken's per-key nonce window is the venue's remedy).
- **Answers are thin.** ``AddOrder``, ``AmendOrder`` and ``CancelOrder`` answer ids and counts,
  not the order: the adapter reads it back (``QueryOrders``), a read that may be retried. If
  that read fails after a placement succeeded, the order is returned as placed (open, nothing
  filled) rather than an error the caller would take for a failed placement.
- **``EGeneral:Permission denied``** says the same for a read-only key placing an order and for
  a key used from an address it is not allowed: on an order action the adapter reads the
  balances — a key that reads is an ``OrderRejected`` with ``PERMISSION_DENIED``, any other
  ``CredentialRejected``.
- **Cancel is idempotent for the caller**: ``EOrder:Unknown order`` (unknown or closed) is
  answered with the order as it stands, or ``OrderNotFound``. **Amend** (``AmendOrder``) changes
  the quantity (the new total) and the limit price in place, keeping both ids; repeating an
  amend whose answer was lost answers with the order as amended.
- **History is account-wide** (``TradesHistory``, ``ClosedOrders``: newest first, 50 a page, by
  time); fills are read oldest first behind a cursor of (time, the fills at that time).
- **Balances on the stream.** Kraken's ``balances`` channel pushes totals, not what open orders
  hold. Its messages, and every order event (which may reserve or release funds), make the
  adapter read ``BalanceEx`` — at most once per ``balance_refresh_s`` — and stream free and
  locked as a snapshot; the stream's balances are the account's a moment after each change.
- **The private stream** reconnects by itself; after every reconnect it catches up over REST —
  open orders, the orders it knew open, orders closed and fills made since the connection was
  lost, the balances — emits what was missed (each order's updates only forward, each fill
  once) and then ``StreamResumed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from eip.exchanges.contract.client_order_ids import fits
from eip.exchanges.contract.errors import (
    BadRequest,
    CredentialRejected,
    ExchangeError,
    NotSupported,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
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
    PrivateEvent,
    Support,
    TimeInForce,
    TradingCapabilities,
    VenueFill,
    VenueOrder,
    VenueOrderStatus,
)
from eip.exchanges.kraken import trading_wire as wire
from eip.exchanges.kraken.private_stream import WANTED, KrakenPrivateStream
from eip.exchanges.kraken.rest import (
    PRIVATE,
    ApiCounter,
    KrakenApiError,
    KrakenDeadline,
    KrakenRest,
    Nonces,
)
from eip.exchanges.kraken.trading_wire import CLIENT_ORDER_IDS
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.private_feed import PrivateFeed, run_private_stream
from eip.exchanges.machinery.private_state import MAX_ORDERS, PrivateState
from eip.exchanges.machinery.urls import ws_url
from eip.exchanges.machinery.venue_rest import Params, PreparedRequest
from eip.exchanges.machinery.venue_stream import RECONNECT_POLICY
from eip.resilience import CircuitBreaker, RetryPolicy

log = logging.getLogger(__name__)

EXCHANGE = "kraken"
REST_BASE = "https://api.kraken.com"
WS_AUTH_URL = "wss://ws-auth.kraken.com/v2"
SIMULATOR_WS_PATH = "/kraken/v2-auth"  # where the exchange simulator serves it
PAGE = 50  # Kraken's page of ClosedOrders and TradesHistory
MAX_QUERY = 50  # txids per QueryOrders
MAX_LIMIT = 1000
# A catch-up reads orders and fills from a little before the connection was lost: the venue's
# clock and ours differ, and an event in flight when it dropped is read again (and dropped).
CATCH_UP_MARGIN = timedelta(seconds=5)
FORM = "application/x-www-form-urlencoded"
CURSOR_MARGIN = Decimal("0.01")  # seconds

CAPABILITIES = TradingCapabilities(
    amend=AmendSupport(
        quantity_down=Support.NATIVE, quantity_up=Support.NATIVE, price=Support.NATIVE
    ),
    stop=Support.NATIVE,
    take_profit=Support.NATIVE,
    # trailing-stop, by a price distance or a percentage; the limit variant's limit is an
    # offset from the trigger, which the contract's absolute price cannot say: NotSupported
    trailing_stop=Support.NATIVE,
    oco=Support.EMULATED,  # Kraken spot has no one-cancels-the-other list
    post_only=Support.NATIVE,
    quote_quantity_market=Support.NATIVE,  # market buys only (viqc)
    private_stream=True,
    balance_stream=True,
    history_needs_symbol=False,
    client_order_ids=CLIENT_ORDER_IDS,
)


@dataclass(frozen=True, slots=True)
class _OrderInfo:
    """What a fill row does not say about its order."""

    client_order_id: str | None
    base_fee: bool


class KrakenTradingAdapter:
    exchange = EXCHANGE
    capabilities = CAPABILITIES

    def __init__(
        self,
        signer: RequestSigner,
        *,
        rest_base_url: str = REST_BASE,
        ws_auth_url: str = WS_AUTH_URL,
        tier: str = "starter",
        api_counter: ApiCounter | None = None,  # instead of the tier's (a bench, a test)
        timeout_s: float = 10.0,
        retry_policy: RetryPolicy | None = None,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        breaker: CircuitBreaker | None = None,
        stale_after_s: float = 30.0,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
        balance_refresh_s: float | None = None,
        http_client: httpx.AsyncClient | None = None,
        queue_size: int = 10_000,
    ) -> None:
        self.signer = signer
        self.health = StreamHealth(EXCHANGE, stale_after_s, label="kraken-private")
        self.breaker = breaker or CircuitBreaker("kraken-trading")
        self.counter = api_counter or ApiCounter.of_tier(tier)
        self.rest = KrakenRest(
            rest_base_url,
            self.counter,
            self.breaker,
            self.health,
            retry_policy or RetryPolicy(attempts=4, base_delay_s=0.2, max_delay_s=5.0),
            timeout_s,
            http_client,
        )
        # the path Kraken signs is the URL's, from /0/private/ on (after any prefix of the base)
        self._path_prefix = urllib.parse.urlsplit(rest_base_url).path.rstrip("/")
        self.nonces = Nonces()
        self._private_lock = asyncio.Lock()
        self.stream = KrakenPrivateStream(
            ws_auth_url,
            self._ws_token,
            self.health,
            reconnect_policy,
            ping_interval_s=ping_interval_s,
            ping_timeout_s=ping_timeout_s,
        )
        self.state = PrivateState()
        # BalanceEx costs an API counter point: by default at most half of what the counter
        # gives back (starter: one read per 6 s), so the refreshes never starve other calls
        self.balance_refresh_s = balance_refresh_s or max(1.0, 2 / self.counter.decay_per_s)
        self._catching_up = False
        self._to_symbol: dict[str, str] = {}
        self._to_pair: dict[str, str] = {}
        self._rules: dict[str, InstrumentRules] = {}
        self._orders: dict[str, VenueOrder] = {}  # the stream's view of live orders
        # venue order id -> what fills need / the time in force it was placed with here; the
        # oldest forgotten first, as PrivateState forgets
        self._info: OrderedDict[str, _OrderInfo] = OrderedDict()
        self._tif: OrderedDict[str, TimeInForce] = OrderedDict()
        self.feed = PrivateFeed(EXCHANGE, self.state, self.health, queue_size)
        self._balances_due = asyncio.Event()

    # -- signing and errors -------------------------------------------------------------------

    async def _prepare(self, method: str, path: str, params: Params) -> PreparedRequest:
        nonce = str(self.nonces.next())
        body = urllib.parse.urlencode({"nonce": nonce, **params})
        signed = await self.signer.sign(
            SigningRequest(
                "kraken-rest",
                {"path": self._path_prefix + path, "nonce": nonce, "body": body},
                purpose=f"{method} {path}",
            )
        )
        return PreparedRequest("", {**signed.headers, "Content-Type": FORM}, body)

    async def _private(
        self,
        method: str,
        params: Params | None = None,
        *,
        once: bool = False,
        order_action: bool = False,
    ) -> Any:
        """A signed private call; Kraken's refusals in the platform's words. ``order_action``:
        a refusal is the order's (``OrderRejected``), not the caller's (``BadRequest``)."""
        try:
            async with self._private_lock:  # nonces reach Kraken in the order they were drawn
                return await self.rest.request(
                    "POST", PRIVATE + method, params or {}, prepare=self._prepare, once=once
                )
        except KrakenDeadline as exc:
            if once:
                raise OutcomeUnknown(EXCHANGE, str(exc).partition(": ")[2]) from None
            raise
        except KrakenApiError as exc:
            raise await self._translate(exc, order_action) from None

    async def _translate(self, exc: KrakenApiError, order_action: bool) -> ExchangeError:
        error = exc.error
        if error in wire.KEY_REFUSED:
            return CredentialRejected(EXCHANGE, error)
        if error == "EGeneral:Permission denied":
            if order_action and await self._key_reads():
                return OrderRejected(
                    EXCHANGE,
                    RejectReason.PERMISSION_DENIED,
                    "the key may read but not trade",
                    venue_code=error,
                )
            return CredentialRejected(EXCHANGE, error)
        if error == "EOrder:Unknown order":
            return OrderNotFound(EXCHANGE, error)
        if order_action:
            return OrderRejected(EXCHANGE, wire.reject_reason(error), error, venue_code=error)
        if error == "EQuery:Unknown asset pair":
            return UnknownSymbol(EXCHANGE, error)
        return exc

    async def _key_reads(self) -> bool:
        """Whether the key works for reading (so a refused action is the key's permission)."""
        try:
            await self._private("BalanceEx")
        except (CredentialRejected, BadRequest):
            return False
        return True

    # -- rules and symbols --------------------------------------------------------------------

    async def load_rules(self) -> dict[str, InstrumentRules]:
        pairs = await self.rest.get("/0/public/AssetPairs")
        self._to_symbol, self._to_pair = wire.pair_names(pairs)
        self._rules = {}
        for entry in pairs.values():
            if entry.get("wsname") and "/" in entry["wsname"]:
                rules = wire.instrument_rules(entry)
                self._rules[rules.symbol] = rules
        return dict(self._rules)

    async def _symbols(self) -> Mapping[str, str]:
        if not self._to_symbol:
            await self.load_rules()
        return self._to_symbol

    async def _pair(self, symbol: str) -> str:
        await self._symbols()
        pair = self._to_pair.get(symbol)
        if pair is None:
            raise UnknownSymbol(EXCHANGE, f"unknown symbol {symbol!r}")
        return pair

    # -- reading orders -----------------------------------------------------------------------

    def _remember(self, txid: str, raw: Mapping[str, Any]) -> None:
        _keep(self._info, txid, _OrderInfo(raw.get("cl_ord_id") or None, wire.fee_in_base(raw)))

    async def _parse_orders(self, entries: Mapping[str, Any]) -> list[VenueOrder]:
        symbols = await self._symbols()
        orders = []
        for txid, raw in entries.items():
            self._remember(txid, raw)
            try:
                found = wire.order(txid, raw, symbols, self._tif.get(txid))
            except KeyError:
                await self.load_rules()  # a pair listed since start-up
                found = wire.order(txid, raw, await self._symbols(), self._tif.get(txid))
            self.state.note(found)
            orders.append(found)
        return orders

    async def _query(self, txids: Iterable[str]) -> list[VenueOrder]:
        """Orders by venue id (``QueryOrders``, 50 at a time); unknown ids are left out."""
        wanted = list(txids)
        found: list[VenueOrder] = []
        for start in range(0, len(wanted), MAX_QUERY):
            batch = ",".join(wanted[start : start + MAX_QUERY])
            try:
                entries = await self._private("QueryOrders", {"txid": batch})
            except BadRequest as exc:
                if "Invalid arguments" not in str(exc):
                    raise
                # a txid Kraken could never have issued: it alone is left out
                if "," in batch:
                    for txid in batch.split(","):
                        found.extend(await self._query([txid]))
                continue
            found.extend(await self._parse_orders(entries))
        return found

    async def _by_client_id(self, client_order_id: str) -> VenueOrder | None:
        params = {"cl_ord_id": client_order_id}
        try:
            open_ = await self._private("OpenOrders", params)
            orders = await self._parse_orders(open_.get("open", {}))
            if not orders:
                closed = await self._private("ClosedOrders", params)
                orders = await self._parse_orders(closed.get("closed", {}))
        except BadRequest as exc:
            if "Invalid arguments" in str(exc):  # an id Kraken would never have accepted
                return None
            raise
        orders.sort(key=lambda o: o.update_key())
        return orders[-1] if orders else None

    async def fetch_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        await self._pair(symbol)
        found: VenueOrder | None
        if venue_order_id is not None:
            orders = await self._query([venue_order_id])
            found = orders[0] if orders else None
        elif client_order_id is not None:
            found = await self._by_client_id(client_order_id)
        else:
            raise BadRequest(EXCHANGE, "name the order by client_order_id or venue_order_id")
        if found is None or found.symbol != symbol:
            raise OrderNotFound(
                EXCHANGE, f"no order {venue_order_id or client_order_id} on {symbol}"
            )
        return found

    async def fetch_open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        if symbol is not None:
            await self._pair(symbol)
        entries = await self._private("OpenOrders")
        orders = await self._parse_orders(entries.get("open", {}))
        return [o for o in orders if symbol is None or o.symbol == symbol]

    async def _closed_since(self, since: datetime, limit: int) -> list[VenueOrder]:
        """Orders closed after ``since``, newest first, every page up to ``limit``."""
        found: list[VenueOrder] = []
        offset = 0
        while len(found) < limit:
            params: dict[str, str | int] = {
                "start": _seconds(since),
                "closetime": "close",
                "ofs": offset,
            }
            page = await self._private("ClosedOrders", params)
            entries = page.get("closed", {})
            found.extend(await self._parse_orders(entries))
            offset += len(entries)
            if not entries or offset >= int(page.get("count", 0)):
                break
        return found[:limit]

    async def fetch_closed_orders(
        self, symbol: str | None, since: datetime, limit: int | None = None
    ) -> list[VenueOrder]:
        """Orders closed at or after ``since`` (Kraken's ``ClosedOrders`` by close time)."""
        if symbol is not None:
            await self._pair(symbol)
        orders = await self._closed_since(since, _limit(limit))
        return [o for o in orders if symbol is None or o.symbol == symbol]

    # -- fills --------------------------------------------------------------------------------

    async def _fills_after(
        self, start: Decimal | None, oldest: int | None = None
    ) -> list[VenueFill]:
        """Fills after ``start`` (unix seconds, exclusive), oldest first: every one, or at
        least the ``oldest`` ones. Kraken pages newest first, so those are read from the far end
        of the history, a page further than needed: fills made meanwhile push the oldest
        further, and one missed there would be behind the next cursor for good."""
        rows: dict[str, Mapping[str, Any]] = {}
        offset = 0
        while True:
            params: dict[str, str | int] = {"ofs": offset}
            if start is not None:
                params["start"] = format(start, "f")
            page = await self._private("TradesHistory", params)
            entries = page.get("trades", {})
            rows.update(entries)
            count = int(page.get("count", 0))
            if offset == 0 and oldest is not None:
                offset = max(len(entries), count - oldest - PAGE)
            else:
                offset += len(entries)
            if not entries or offset >= count:
                break
        unknown = {str(r["ordertxid"]) for r in rows.values()} - self._info.keys()
        if unknown:
            await self._query(sorted(unknown))
        symbols = await self._symbols()
        fills = []
        for txid, row in rows.items():
            info = self._info.get(str(row["ordertxid"]), _OrderInfo(None, False))
            try:
                fill = wire.trade(txid, row, symbols, info.client_order_id, info.base_fee)
            except KeyError:
                await self.load_rules()
                symbols = await self._symbols()
                fill = wire.trade(txid, row, symbols, info.client_order_id, info.base_fee)
            fills.append((wire.dec(row["time"]), txid, fill))
        fills.sort(key=lambda f: (f[0], f[2].trade_id, f[1]))
        return [f for _, _, f in fills]

    async def fetch_fills(
        self, symbol: str | None, cursor: FillCursor | None = None, limit: int | None = None
    ) -> FillPage:
        """Own fills after ``cursor``, oldest first — from the first Kraken keeps when None.
        The cursor is the time of the last fill read and the txids read at that time."""
        if symbol is not None:
            await self._pair(symbol)
        if cursor is not None and cursor.symbol != symbol:
            raise BadRequest(EXCHANGE, f"the cursor is for {cursor.symbol}, not {symbol}")
        after, seen = _parse_cursor(cursor)
        # Kraken's start is exclusive: read from just before the cursor's time (a margin for the
        # float its times pass through), drop what the cursor saw
        wanted = _limit(limit)
        start = after - CURSOR_MARGIN if after is not None else None
        fills = await self._fills_after(start, wanted + len(seen))
        fresh = [
            f
            for f in fills
            if (symbol is None or f.symbol == symbol)
            and (
                after is None
                or _fill_seconds(f) > after
                or (_fill_seconds(f) == after and _fill_key(f) not in seen)
            )
        ][:wanted]
        if not fresh:
            return FillPage([], cursor or FillCursor(symbol, ""))
        last = _fill_seconds(fresh[-1])
        at_last = {_fill_key(f) for f in fresh if _fill_seconds(f) == last}
        if after == last:
            at_last |= seen
        keys = ",".join(sorted(at_last))
        return FillPage(fresh, FillCursor(symbol, f"{format(last, 'f')}|{keys}"))

    # -- balances -----------------------------------------------------------------------------

    async def fetch_balances(self) -> list[AssetBalance]:
        return wire.balances(await self._private("BalanceEx"))

    # -- orders -------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        if not fits(request.client_order_id, CLIENT_ORDER_IDS):
            raise OrderRejected(
                EXCHANGE,
                RejectReason.INVALID_ORDER,
                "the client order id does not fit the platform's Kraken ids "
                "(1 to 18 letters and digits)",
            )
        try:
            pair = await self._pair(request.symbol)
        except UnknownSymbol as exc:
            raise OrderRejected(EXCHANGE, RejectReason.UNKNOWN_SYMBOL, str(exc)) from None
        params = wire.order_params(request, pair)
        body = await self._private("AddOrder", params, once=True, order_action=True)
        txid = str(body["txid"][0])
        _keep(self._tif, txid, request.time_in_force)
        try:
            placed = await self.fetch_order(request.symbol, venue_order_id=txid)
        except (TransientExchangeError, OrderNotFound) as exc:
            log.warning("kraken order placed, not read back", extra={"error": str(exc)})
            placed = _as_placed(request, txid)
        self.state.note(placed)
        return placed

    async def place_oco(self, request: OcoRequest) -> list[VenueOrder]:
        raise NotSupported(EXCHANGE, "Kraken spot has no one-cancels-the-other orders")

    async def cancel_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        await self._pair(symbol)
        if venue_order_id is not None:
            params = {"txid": venue_order_id}
        elif client_order_id is not None:
            params = {"cl_ord_id": client_order_id}
        else:
            raise BadRequest(EXCHANGE, "name the order by client_order_id or venue_order_id")
        try:
            await self._private("CancelOrder", params, order_action=True)
        except OrderNotFound:
            pass  # unknown, or closed already: what it is now
        except OrderRejected as exc:
            if exc.reason is not RejectReason.INVALID_ORDER:
                raise
            # an id Kraken would never have issued or accepted
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
        """``AmendOrder``: the new total quantity and/or limit price, in place."""
        if quantity is None and price is None:
            raise BadRequest(EXCHANGE, "an amend changes the quantity, the price or both")
        await self._pair(symbol)
        params: dict[str, str] = {}
        if venue_order_id is not None:
            params["txid"] = venue_order_id
        elif client_order_id is not None:
            params["cl_ord_id"] = client_order_id
        else:
            raise BadRequest(EXCHANGE, "name the order by client_order_id or venue_order_id")
        if quantity is not None:
            params["order_qty"] = wire.wire_decimal(quantity)
        if price is not None:
            params["limit_price"] = wire.wire_decimal(price)
        try:
            await self._private("AmendOrder", params, order_action=True)
        except OrderNotFound:
            current = await self.fetch_order(
                symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
            )
            raise OrderRejected(
                EXCHANGE,
                RejectReason.ORDER_NOT_AMENDABLE,
                f"the order is {current.status.value}",
                venue_code="EOrder:Unknown order",
            ) from None
        except OrderRejected:
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
            raise
        return await self.fetch_order(
            symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
        )

    # -- private stream -----------------------------------------------------------------------

    async def _ws_token(self) -> str:
        answer = await self._private("GetWebSocketsToken")
        return str(answer["token"])

    def private_events(self) -> AsyncIterator[PrivateEvent]:
        return self.feed.events(
            lambda: run_private_stream(
                self.stream,
                self,
                WANTED,
                self._symbols,
                subscribed=lambda: not self._catching_up,  # a catch-up leaves the socket unread
                helpers=[self._refresh_balances],
            ),
            on_end=self._orders.clear,
        )

    async def _refresh_balances(self) -> None:
        """Free and locked from ``BalanceEx`` after the stream said something changed, at
        most once per ``balance_refresh_s``; nothing while the stream is down (the catch-up
        reads them)."""
        while True:
            await self._balances_due.wait()
            await asyncio.sleep(min(0.1, self.balance_refresh_s))
            self._balances_due.clear()
            if self.feed.down_since is not None or not self.feed.connected_once:
                continue
            try:
                balances = await self.fetch_balances()
            except ExchangeError as exc:
                self.health.error("rest", f"balances not read: {exc}")
                self._balances_due.set()
            else:
                if self.feed.down_since is None and self.feed.consuming:
                    await self.feed.emit_balance_snapshot(balances)
            await asyncio.sleep(self.balance_refresh_s)

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

    async def on_message(self, message: dict[str, Any]) -> None:
        received = datetime.now(UTC)
        channel = message.get("channel")
        self._balances_due.set()  # orders reserve and release; balances changed
        if channel != "executions":
            return
        for item in message.get("data") or []:
            try:
                await self._on_execution(item, received)
            except (KeyError, ValueError, ArithmeticError, TypeError) as exc:
                self.health.error("parse", f"executions: {exc!r}")
                log.warning(
                    "unparseable kraken execution", extra={"exec_type": item.get("exec_type")}
                )

    async def _on_execution(self, item: Mapping[str, Any], received: datetime) -> None:
        order_id = str(item["order_id"])
        previous = self._orders.get(order_id)
        if previous is None and "symbol" not in item:
            # an order this stream never saw in full (placed before it connected): read it
            with contextlib.suppress(ExchangeError):
                found = await self._query([order_id])
                previous = found[0] if found else None
        updated, fill = wire.execution(item, previous)
        if updated is None:
            return
        if updated.client_order_id is None and order_id in self.state.client_ids:
            updated = replace(updated, client_order_id=self.state.client_ids[order_id])
        if "fee_ccy_pref" in item:
            base_fee = item["fee_ccy_pref"] == "fcib"
            _keep(self._info, order_id, _OrderInfo(updated.client_order_id, base_fee))
        if updated.status.is_open:
            self._orders[order_id] = updated
        else:
            self._orders.pop(order_id, None)
        if fill is not None:
            await self.feed.emit_fill(fill, received)
        await self.feed.emit_order(updated, received)

    async def _catch_up(self, down_since: datetime) -> None:
        """What happened while the stream was down, from REST, through the same filters as
        live events: orders first (their client ids name the fills), fills, then balances."""
        received = datetime.now(UTC)
        since = down_since - CATCH_UP_MARGIN
        orders = await self.fetch_open_orders()
        orders.extend(await self._closed_since(since, MAX_LIMIT))
        # known open before and in neither list (closed before ``since``?): asked by id — every
        # call counts against Kraken's API counter, so only those
        seen = {o.venue_order_id for o in orders}
        known = [venue_id for venue_id in self.state.open_orders if venue_id not in seen]
        closed = await self._query(known)
        for venue_id in set(known) - {o.venue_order_id for o in closed}:
            self.state.open_orders.pop(venue_id, None)
        orders.extend(closed)
        for fill in await self._fills_after(Decimal(str(since.timestamp()))):
            await self.feed.emit_fill(fill, received)
        for each in sorted(orders, key=lambda o: o.update_key()):
            before = self._orders.get(each.venue_order_id)
            if (
                before is not None
                and each.status.is_open
                and each.update_key() <= before.update_key()
                and (each.quantity, each.price) != (before.quantity, before.price)
            ):
                # amended while the stream was down: REST says no time for it, only what changed
                each = replace(each, sequence=(before.sequence or 0) + 1)
            if each.status.is_open:
                self._orders[each.venue_order_id] = each
            else:
                self._orders.pop(each.venue_order_id, None)
            await self.feed.emit_order(each, received)
        await self.feed.emit_balance_snapshot(await self.fetch_balances(), received)

    # -- health -------------------------------------------------------------------------------

    def status(self) -> StreamStatus:
        return self.health.status(self.breaker.is_open, self.counter.headroom())

    async def close(self) -> None:
        await self.rest.aclose()


def _keep(memory: OrderedDict[str, Any], key: str, value: Any) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > MAX_ORDERS:
        memory.popitem(last=False)


def _as_placed(request: OrderRequest, txid: str) -> VenueOrder:
    """A placed order as sent, when reading it back failed."""
    return VenueOrder(
        exchange=EXCHANGE,
        symbol=request.symbol,
        venue_order_id=txid,
        client_order_id=request.client_order_id,
        side=request.side,
        type=request.type,
        status=(
            VenueOrderStatus.UNTRIGGERED if request.type.is_conditional else VenueOrderStatus.OPEN
        ),
        quantity=request.quantity,
        filled_quantity=Decimal(0),
        price=request.price if request.type.has_limit_price else None,
        stop_price=request.stop_price,
        time_in_force=request.time_in_force,
    )


def _seconds(when: datetime) -> str:
    if when.tzinfo is None:
        raise BadRequest(EXCHANGE, "times must be timezone-aware")
    return format(Decimal(str(when.timestamp())), "f")


def _limit(limit: int | None) -> int:
    if limit is None:
        return 500
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(EXCHANGE, f"limit must be 1..{MAX_LIMIT}, got {limit}")
    return limit


def _fill_seconds(fill: VenueFill) -> Decimal:
    return Decimal(str(fill.time.timestamp()))


def _fill_key(fill: VenueFill) -> str:
    return f"{fill.trade_id}:{fill.venue_order_id}"


def _parse_cursor(cursor: FillCursor | None) -> tuple[Decimal | None, set[str]]:
    if cursor is None or not cursor.value:
        return None, set()
    when, _, keys = cursor.value.partition("|")
    try:
        return Decimal(when), {k for k in keys.split(",") if k}
    except ArithmeticError:
        raise BadRequest(EXCHANGE, f"not a Kraken fill cursor: {cursor.value!r}") from None


def create_adapter(
    signer: RequestSigner,
    *,
    base_url: str | None = None,
    ws_base_url: str | None = None,
    **options: Any,
) -> KrakenTradingAdapter:
    """The registry's factory: ``base_url`` moves REST (and ``ws_base_url``, by default
    ``base_url`` with ``ws``/``wss``, the authenticated WebSocket at the simulator's
    ``/kraken/v2-auth``) to one host, e.g. the simulator."""
    if base_url is not None:
        options.setdefault("rest_base_url", base_url)
    ws_base = ws_base_url or (ws_url(base_url) if base_url is not None else None)
    if ws_base is not None:
        options.setdefault("ws_auth_url", ws_base.rstrip("/") + SIMULATOR_WS_PATH)
    return KrakenTradingAdapter(signer, **options)
