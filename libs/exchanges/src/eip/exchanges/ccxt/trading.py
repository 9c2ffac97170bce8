"""``TradingAdapter`` on unmodified ccxt: KuCoin, Bitfinex, HTX, Bybit, OKX and Gate.io.

ccxt builds, signs and parses each venue's private REST calls; this adapter puts the trading
contract around them: Decimal in (as text, so ccxt's own ``amount_to_precision`` sees the
platform's digits, never a float's) and out (``number = str``), the platform's client order id
on every order, lookups by either id, ccxt's exceptions into the contract's closed set
(``trading_errors``), instrument rules from ccxt's markets. What each venue adds — its
capabilities, its client order id rules, the ccxt options of its account mode, the codes that
refine ``InvalidOrder`` — is a ``CcxtVenueProfile`` in the venue's package (``<venue>/
trading.py``), so ``docs/TRADING_ADAPTERS.md``'s table is read from code.

What is subtle:

- **Secrets.** ccxt signs in-process, so it needs the secret itself (and the passphrase:
  KuCoin, OKX). The adapter asks its ``SecretSource`` (the auth service, through
  ``eip.credentials_client``: audited, cached there briefly, dropped on ``auth.credentials.v1``
  revocation) before **every** call, sets it on the ccxt client for the calls in flight and
  clears it when none is: between calls the adapter holds no secret, and a revoked credential
  fails the next call with ``CredentialRejected`` before anything is sent.
- **Never retry a placement.** ``create_order`` runs once; a lost answer is ``OutcomeUnknown``
  and the caller looks the order up by client order id. Queries and cancels (idempotent) go
  through the retry policy, each attempt signed afresh by ccxt.
- **Answers are sparse.** Several venues answer a placement, cancel or amend with ids only, so
  the adapter reads the order back; a placement whose read-back fails is returned as requested
  (open, nothing filled), never as an error, since it was placed.
- **Quantities are checked before sending.** ccxt truncates an amount to the market's
  precision silently; a quantity or price off the venue's step is refused here
  (``lot_size`` / ``price_filter``) so what is sent is what was asked.
- **No private stream yet.** ccxt.pro has ``watchOrders``/``watchMyTrades``/``watchBalance``
  for all six, but they are not wired: ``capabilities.private_stream`` is False and
  ``private_events`` raises ``NotSupported``; consumers poll (open orders, fills by cursor).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from eip.exchanges.ccxt.decimal_context import in_own_decimal_context
from eip.exchanges.ccxt.market_data import new_client
from eip.exchanges.ccxt.parse import normalize_symbol
from eip.exchanges.ccxt.trading_errors import CodeReader, map_trading_error
from eip.exchanges.ccxt.trading_parse import parse_balances, parse_fill, parse_order, parse_rules
from eip.exchanges.contract.client_order_ids import fits
from eip.exchanges.contract.errors import (
    BadRequest,
    ExchangeError,
    NotSupported,
    OrderNotFound,
    OrderRejected,
    RejectReason,
    TransientExchangeError,
    UnknownSymbol,
)
from eip.exchanges.contract.market_data import StreamStatus
from eip.exchanges.contract.signing import RequestSigner, SecretSource
from eip.exchanges.contract.trading import (
    AssetBalance,
    FillCursor,
    FillPage,
    InstrumentRules,
    OcoRequest,
    OrderRequest,
    OrderType,
    PrivateEvent,
    Support,
    TimeInForce,
    TradingCapabilities,
    VenueFill,
    VenueOrder,
    VenueOrderStatus,
)
from eip.resilience import RetryPolicy, retry_async

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_KNOWN_ORDERS = 10_000
CLOSED_SCAN_LIMIT = 100


@dataclass(frozen=True)
class CcxtVenueProfile:
    """What one venue needs on top of ccxt (its package's ``trading.py`` declares it)."""

    exchange: str  # the platform's id (``gateio``), ccxt's from the registry
    capabilities: TradingCapabilities
    time_in_force: frozenset[TimeInForce] = frozenset(
        {TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}
    )
    # ccxt options fixing the account mode, so ccxt does not ask the venue on first use
    client_options: Mapping[str, Any] = field(default_factory=dict)
    # a market buy may be sized in the base asset (Gate.io and HTX size market buys in quote)
    market_buy_in_base: bool = True
    # the venue looks orders up (and cancels them) by client order id; else the adapter
    # resolves the venue id from open and recent closed orders (Bitfinex needs the cid's date)
    lookup_by_client_id: bool = True
    # extra ccxt params of fetch_order (Bybit: acknowledging its last-500-orders window)
    fetch_params: Mapping[str, Any] = field(default_factory=dict)
    # the ccxt param naming the client order id in lookups and cancels
    client_id_key: str = "clientOrderId"
    # the order by client id where ccxt's fetch_order cannot (client, ccxt symbol, client id) →
    # ccxt's unified order; raises ccxt.OrderNotFound
    fetch_by_client_id: Callable[[Any, str, Any], Awaitable[Mapping[str, Any]]] | None = None
    # the same by the venue's id (client, ccxt symbol, venue id) where fetch_order cannot
    fetch_by_venue_id: Callable[[Any, str, str], Awaitable[Mapping[str, Any]]] | None = None
    # the venue's own codes that refine ccxt's broad InvalidOrder, and where its body says them
    reject_codes: Mapping[str, RejectReason] = field(default_factory=dict)
    read_code: CodeReader | None = None
    # codes by which the venue says it does not know whether it placed (a time-out inside it)
    unknown_codes: frozenset[str] = frozenset()
    # fragments of the venue's error text → reason, where its codes say too little (in order)
    reject_messages: Mapping[str, RejectReason] = field(default_factory=dict)

    def client_id_param(self, client_order_id: str) -> Any:
        kind = self.capabilities.client_order_ids.kind
        return int(client_order_id) if kind == "integer" else client_order_id


def _ms(when: datetime) -> int:
    if when.tzinfo is None:
        raise BadRequest("ccxt", "naive datetime: times are UTC-aware")
    return int(when.timestamp() * 1000)


def _text(value: Decimal) -> str:
    return format(value, "f")


def _multiple(value: Decimal, step: Decimal) -> bool:
    return step <= 0 or value % step == 0


class CcxtTradingAdapter:
    def __init__(
        self,
        profile: CcxtVenueProfile,
        secrets: SecretSource,
        *,
        client: Any = None,
        base_url: str | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout_ms: int = 10_000,
    ) -> None:
        self.exchange = profile.exchange
        self.profile = profile
        self.capabilities = profile.capabilities
        self._secrets = secrets
        self.client = (
            client if client is not None else new_client(self.exchange, base_url, timeout_ms)
        )
        self.client.options.update(dict(profile.client_options))
        self.retry_policy = retry_policy or RetryPolicy(attempts=3, base_delay_s=0.2, max_delay_s=2)
        self._in_flight = 0
        self._symbols: dict[str, str] | None = None  # ours -> ccxt's
        self._known: OrderedDict[str, VenueOrder] = OrderedDict()  # client id -> last seen
        self._errors = 0
        self._disarm()

    # -- secrets and calls ------------------------------------------------------------------

    def _disarm(self) -> None:
        self.client.apiKey = ""
        self.client.secret = ""
        self.client.password = ""

    async def _once(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        placement: bool = False,
        order_action: bool = False,
    ) -> T:
        secret = await self._secrets.secret()
        self._in_flight += 1
        self.client.apiKey = secret.api_key
        self.client.secret = secret.secret
        self.client.password = secret.passphrase or ""
        try:
            return await in_own_decimal_context(fn)
        except Exception as exc:
            self._errors += 1
            raise map_trading_error(
                self.exchange,
                exc,
                placement=placement,
                order_action=order_action,
                codes=self.profile.reject_codes,
                read_code=self.profile.read_code,
                unknown_codes=self.profile.unknown_codes,
                messages=self.profile.reject_messages,
                headers=getattr(self.client, "last_response_headers", None),
            ) from None
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._disarm()

    async def _call(self, fn: Callable[[], Awaitable[T]], *, order_action: bool = False) -> T:
        """A call that may be repeated (queries, cancels): retried on transient errors."""
        return await retry_async(
            lambda: self._once(fn, order_action=order_action),
            self.retry_policy,
            retry_on=(TransientExchangeError,),
        )

    # -- rules and symbols ------------------------------------------------------------------

    async def _markets(self, reload: bool) -> dict[str, Any]:
        markets: dict[str, Any] = await retry_async(
            lambda: self._public(lambda: self.client.load_markets(reload)),
            self.retry_policy,
            retry_on=(TransientExchangeError,),
        )
        symbols = {}
        for ccxt_symbol, market in markets.items():
            if market.get("spot") is not True:
                continue
            try:
                symbols[normalize_symbol(ccxt_symbol)] = ccxt_symbol
            except ValueError:
                continue
        self._symbols = symbols
        return markets

    async def _public(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await in_own_decimal_context(fn)
        except Exception as exc:
            raise map_trading_error(self.exchange, exc) from None

    def use_markets(self, markets: list[dict[str, Any]]) -> None:
        """Markets from elsewhere (a fixture, a shared cache) instead of loading them."""
        self.client.set_markets(markets)
        self._symbols = {
            normalize_symbol(m["symbol"]): m["symbol"] for m in markets if m.get("spot")
        }

    async def load_rules(self) -> dict[str, InstrumentRules]:
        await self._markets(reload=self._symbols is not None)
        return self.rules()

    def rules(self) -> dict[str, InstrumentRules]:
        """The rules of the markets loaded last (``load_rules`` loads them afresh)."""
        markets = self.client.markets or {}
        caps = self.capabilities
        types = {OrderType.MARKET, OrderType.LIMIT}
        amend = caps.amend.native(quantity_down=True, quantity_up=False, price=False) or (
            caps.amend.native(quantity_down=False, quantity_up=False, price=True)
        )
        out = {}
        for symbol, ccxt_symbol in (self._symbols or {}).items():
            try:
                out[symbol] = parse_rules(
                    markets[ccxt_symbol],
                    self.client.precisionMode,
                    order_types=types,
                    time_in_force=self.profile.time_in_force,
                    post_only=caps.post_only.value == "native",
                    quote_quantity_market=caps.quote_quantity_market.value == "native",
                    amend=amend,
                )
            except (ValueError, ArithmeticError) as exc:
                log.warning("market skipped", extra={"exchange": self.exchange, "symbol": symbol})
                log.debug("market skipped: %s", exc)
        return out

    async def _symbol(self, symbol: str) -> str:
        if self._symbols is None:
            await self._markets(reload=False)
        assert self._symbols is not None
        found = self._symbols.get(symbol)
        if found is None:
            raise UnknownSymbol(self.exchange, f"unknown symbol {symbol!r}")
        return found

    # -- parsing ----------------------------------------------------------------------------

    def _order(self, raw: Mapping[str, Any]) -> VenueOrder:
        try:
            order = parse_order(self.exchange, raw)
        except (KeyError, ValueError, ArithmeticError) as exc:
            raise TransientExchangeError(self.exchange, f"unreadable order: {exc}") from None
        if order.client_order_id is not None:
            self._known[order.client_order_id] = order
            self._known.move_to_end(order.client_order_id)
            while len(self._known) > MAX_KNOWN_ORDERS:
                self._known.popitem(last=False)
        return order

    def _fill(self, raw: Mapping[str, Any]) -> VenueFill:
        try:
            return parse_fill(self.exchange, raw)
        except (KeyError, ValueError, ArithmeticError) as exc:
            raise TransientExchangeError(self.exchange, f"unreadable fill: {exc}") from None

    # -- orders -----------------------------------------------------------------------------

    def _check(self, request: OrderRequest) -> None:
        rules = self.capabilities.client_order_ids
        if not fits(request.client_order_id, rules):
            raise OrderRejected(
                self.exchange,
                RejectReason.INVALID_ORDER,
                "client order id does not fit the venue's rules",
            )
        if request.type not in (OrderType.MARKET, OrderType.LIMIT):
            raise NotSupported(self.exchange, f"{request.type.value} orders are emulated")
        if request.time_in_force not in self.profile.time_in_force:
            raise NotSupported(self.exchange, f"time in force {request.time_in_force.value}")
        if request.reduce_only:
            raise OrderRejected(self.exchange, RejectReason.INVALID_ORDER, "spot: no reduce-only")
        if request.post_only and (
            request.type is not OrderType.LIMIT or request.time_in_force is not TimeInForce.GTC
        ):
            raise OrderRejected(
                self.exchange, RejectReason.INVALID_ORDER, "post-only is a GTC limit order"
            )
        if request.type is OrderType.LIMIT and (request.price is None or request.quantity is None):
            raise OrderRejected(
                self.exchange, RejectReason.INVALID_ORDER, "a limit order needs price and quantity"
            )
        if request.quote_quantity is not None:
            if request.type is not OrderType.MARKET or request.side != "buy":
                raise NotSupported(self.exchange, "quote-sized orders are market buys")
            if self.capabilities.quote_quantity_market.value != "native":
                raise NotSupported(self.exchange, "quote-sized market orders")
        elif request.quantity is None:
            raise OrderRejected(self.exchange, RejectReason.INVALID_ORDER, "no quantity")
        elif (
            request.type is OrderType.MARKET
            and request.side == "buy"
            and not self.profile.market_buy_in_base
        ):
            raise NotSupported(self.exchange, "market buys are sized in quote on this venue")

    def _check_steps(
        self, market: Mapping[str, Any], quantity: Decimal | None, price: Decimal | None
    ) -> None:
        rules = parse_rules(
            market,
            self.client.precisionMode,
            order_types=(),
            time_in_force=(),
            post_only=False,
            quote_quantity_market=False,
            amend=False,
        )
        if quantity is not None and not _multiple(quantity, rules.lot_size):
            raise OrderRejected(self.exchange, RejectReason.LOT_SIZE, "quantity off the lot step")
        if price is not None and not _multiple(price, rules.tick_size):
            raise OrderRejected(self.exchange, RejectReason.PRICE_FILTER, "price off the tick")

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        self._check(request)
        symbol = await self._symbol(request.symbol)
        self._check_steps(self.client.market(symbol), request.quantity, request.price)
        params: dict[str, Any] = {
            "clientOrderId": self.profile.client_id_param(request.client_order_id)
        }
        if request.post_only:
            params["postOnly"] = True
        if request.type is OrderType.LIMIT and request.time_in_force is not TimeInForce.GTC:
            params["timeInForce"] = request.time_in_force.value.upper()

        async def send() -> Any:
            if request.quote_quantity is not None:
                cost = _text(request.quote_quantity)
                return await self.client.create_market_buy_order_with_cost(symbol, cost, params)
            assert request.quantity is not None
            amount = _text(request.quantity)
            price = None if request.price is None else _text(request.price)
            return await self.client.create_order(
                symbol, request.type.value, request.side, amount, price, params
            )

        answer = await self._once(send, placement=True)
        venue_id = str(answer.get("id") or "")
        if not venue_id:
            return _as_placed(self.exchange, request, "")
        try:
            return await self._fetch(symbol, venue_order_id=venue_id)
        except ExchangeError as exc:
            log.warning(
                "placed order not read back",
                extra={"exchange": self.exchange, "error": type(exc).__name__},
            )
            return _as_placed(self.exchange, request, venue_id)

    async def place_oco(self, request: OcoRequest) -> list[VenueOrder]:
        raise NotSupported(self.exchange, "OCO orders are emulated by the platform")

    async def _fetch(
        self,
        ccxt_symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        if venue_order_id is not None:
            by_id = self.profile.fetch_by_venue_id
            if by_id is not None:
                return self._order(
                    await self._call(lambda: by_id(self.client, ccxt_symbol, venue_order_id))
                )
            params = dict(self.profile.fetch_params)
            raw = await self._call(
                lambda: self.client.fetch_order(venue_order_id, ccxt_symbol, params)
            )
            return self._order(raw)
        if client_order_id is None:
            raise BadRequest(self.exchange, "an order is looked up by one of its ids")
        cid = self.profile.client_id_param(client_order_id)
        custom = self.profile.fetch_by_client_id
        if custom is not None:
            return self._order(await self._call(lambda: custom(self.client, ccxt_symbol, cid)))
        if self.profile.lookup_by_client_id:
            params = {**self.profile.fetch_params, self.profile.client_id_key: cid}
            raw = await self._call(lambda: self.client.fetch_order(None, ccxt_symbol, params))
            return self._order(raw)
        return await self._scan(ccxt_symbol, client_order_id)

    async def _scan(self, ccxt_symbol: str, client_order_id: str) -> VenueOrder:
        """The order by client id where the venue has no lookup by it: the orders known, then
        open ones, then recent closed ones. Not finding it proves nothing beyond what the
        venue's closed order history keeps."""
        known = self._known.get(client_order_id)
        if known is not None:
            return await self._fetch(ccxt_symbol, venue_order_id=known.venue_order_id)
        for fetch in (
            lambda: self.client.fetch_open_orders(ccxt_symbol),
            lambda: self.client.fetch_closed_orders(ccxt_symbol, None, CLOSED_SCAN_LIMIT),
        ):
            for raw in await self._call(fetch):
                order = self._order(raw)
                if order.client_order_id == client_order_id:
                    return order
        raise OrderNotFound(self.exchange, f"no order with client id {client_order_id}")

    async def fetch_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        ccxt_symbol = await self._symbol(symbol)
        return await self._fetch(
            ccxt_symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
        )

    async def cancel_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder:
        ccxt_symbol = await self._symbol(symbol)
        if venue_order_id is None and not self.profile.lookup_by_client_id:
            if client_order_id is None:
                raise BadRequest(self.exchange, "an order is cancelled by one of its ids")
            venue_order_id = (await self._scan(ccxt_symbol, client_order_id)).venue_order_id
        params: dict[str, Any] = {}
        if venue_order_id is None and client_order_id is not None:
            params[self.profile.client_id_key] = self.profile.client_id_param(client_order_id)
        try:
            await self._call(
                lambda: self.client.cancel_order(venue_order_id, ccxt_symbol, params),
                order_action=True,
            )
        except (OrderNotFound, OrderRejected) as refused:
            # cancelling a closed order answers it as it is; an unknown one stays not found
            try:
                order = await self._fetch(
                    ccxt_symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
                )
            except OrderNotFound:
                raise refused from None
            if order.status.is_open:
                raise
            return order
        return await self._fetch(
            ccxt_symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
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
        ccxt_symbol = await self._symbol(symbol)
        current = await self._fetch(
            ccxt_symbol, client_order_id=client_order_id, venue_order_id=venue_order_id
        )
        new_quantity = None if quantity is None or quantity == current.quantity else quantity
        new_price = None if price is None or price == current.price else price
        if new_quantity is None and new_price is None:
            return current  # the order already is as asked (a repeat after a lost answer)
        old = current.quantity or Decimal(0)
        if not self.capabilities.amend.native(
            quantity_down=new_quantity is not None and new_quantity < old,
            quantity_up=new_quantity is not None and new_quantity > old,
            price=new_price is not None,
        ):
            raise NotSupported(self.exchange, "this amendment is a cancel-replace")
        if not current.status.is_open or current.type is not OrderType.LIMIT:
            raise OrderRejected(
                self.exchange, RejectReason.ORDER_NOT_AMENDABLE, "only open limit orders"
            )
        self._check_steps(self.client.market(ccxt_symbol), new_quantity, new_price)
        amount = None if new_quantity is None else _text(new_quantity)
        limit = None if new_price is None else _text(new_price)
        await self._once(
            lambda: self.client.edit_order(
                current.venue_order_id, ccxt_symbol, "limit", current.side, amount, limit, {}
            ),
            order_action=True,
        )
        return await self._fetch(ccxt_symbol, venue_order_id=current.venue_order_id)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        ccxt_symbol = None if symbol is None else await self._symbol(symbol)
        raws = await self._call(lambda: self.client.fetch_open_orders(ccxt_symbol))
        return [self._order(raw) for raw in raws]

    async def fetch_closed_orders(
        self, symbol: str | None, since: datetime, limit: int | None = None
    ) -> list[VenueOrder]:
        ccxt_symbol = await self._history_symbol(symbol)
        since_ms = _ms(since)
        raws = await self._call(
            lambda: self.client.fetch_closed_orders(ccxt_symbol, since_ms, limit)
        )
        orders = [self._order(raw) for raw in raws]
        orders = [o for o in orders if not o.status.is_open]
        return sorted(orders, key=lambda o: (o.sequence or 0, o.venue_order_id))

    async def _history_symbol(self, symbol: str | None) -> str | None:
        if symbol is None:
            if self.capabilities.history_needs_symbol:
                raise NotSupported(self.exchange, "order and fill history is per symbol")
            return None
        return await self._symbol(symbol)

    async def fetch_fills(
        self, symbol: str | None, cursor: FillCursor | None = None, limit: int | None = None
    ) -> FillPage:
        ccxt_symbol = await self._history_symbol(symbol)
        since_ms, seen = _parse_cursor(self.exchange, cursor)
        raws = await self._call(lambda: self.client.fetch_my_trades(ccxt_symbol, since_ms, limit))
        fills = sorted((self._fill(raw) for raw in raws), key=_fill_order)
        fresh = [f for f in fills if _fill_key(f) not in seen and _ms(f.time) >= (since_ms or 0)]
        if not fresh:
            return FillPage([], cursor or FillCursor(symbol, ""))
        last_ms = _ms(fresh[-1].time)
        at_last = {_fill_key(f) for f in fresh if _ms(f.time) == last_ms}
        if since_ms == last_ms:
            at_last |= seen
        value = f"{last_ms}|{','.join(sorted(at_last))}"
        return FillPage(fresh, FillCursor(symbol, value))

    async def fetch_balances(self) -> list[AssetBalance]:
        raw = await self._call(lambda: self.client.fetch_balance())
        try:
            return parse_balances(raw, self.exchange)
        except (ValueError, ArithmeticError) as exc:
            raise TransientExchangeError(self.exchange, f"unreadable balances: {exc}") from None

    # -- streams ----------------------------------------------------------------------------

    def private_events(self) -> AsyncIterator[PrivateEvent]:
        return self._no_stream()

    async def _no_stream(self) -> AsyncIterator[PrivateEvent]:
        raise NotSupported(self.exchange, "no private stream through ccxt yet: poll over REST")
        yield  # pragma: no cover - makes this an async generator

    def status(self) -> StreamStatus:
        return StreamStatus(
            exchange=self.exchange,
            connected=False,
            last_message_age_s=None,
            messages_per_second=0.0,
            errors=self._errors,
            stale=False,
            circuit_open=False,
            rate_limit_headroom=None,
            detail="REST only (no private stream)",
        )

    async def close(self) -> None:
        self._disarm()
        await self.client.close()


def _as_placed(exchange: str, request: OrderRequest, venue_id: str) -> VenueOrder:
    now = datetime.now(UTC)
    return VenueOrder(
        exchange=exchange,
        symbol=request.symbol,
        venue_order_id=venue_id,
        client_order_id=request.client_order_id,
        side=request.side,
        type=request.type,
        status=VenueOrderStatus.OPEN,
        quantity=request.quantity,
        filled_quantity=Decimal(0),
        price=request.price,
        time_in_force=request.time_in_force,
        created_time=now,
        updated_time=now,
    )


def _fill_key(fill: VenueFill) -> str:
    return f"{fill.trade_id}:{fill.venue_order_id}"


def _fill_order(fill: VenueFill) -> tuple[datetime, str]:
    return fill.time, _fill_key(fill)


def _parse_cursor(exchange: str, cursor: FillCursor | None) -> tuple[int | None, set[str]]:
    if cursor is None or not cursor.value:
        return None, set()
    when, _, keys = cursor.value.partition("|")
    try:
        return int(when), {k for k in keys.split(",") if k}
    except ValueError:
        raise BadRequest(exchange, f"not a fill cursor: {cursor.value!r}") from None


def _support_cell(support: Support, native: str = "native") -> str:
    return native if support is Support.NATIVE else support.value


def capability_row(name: str, caps: TradingCapabilities) -> str:
    """The venue's row of docs/TRADING_ADAPTERS.md's capability table, from its declared
    capabilities (a test keeps the document equal to this)."""
    amend = caps.amend
    if amend.native(quantity_down=True, quantity_up=True, price=True):
        amend_cell = "native price and quantity either way (ids kept)"
    else:
        amend_cell = "emulated (cancel-replace)"
    stops = "native" if caps.stop is Support.NATIVE else f"{caps.stop.value} (not sent yet)"
    ids = caps.client_order_ids
    if ids.kind == "integer":
        id_cell = "integer (`cid`)"
    else:
        prefix = f"`{ids.prefix}` + " if ids.prefix else ""
        id_cell = f"{prefix}{ids.max_length - len(ids.prefix)} of `{ids.alphabet}`"
    stream = "native / native" if caps.private_stream else "REST polling (stream not wired)"
    cells = [
        name,
        amend_cell,
        stops,
        _support_cell(caps.trailing_stop),
        _support_cell(caps.oco),
        _support_cell(caps.post_only),
        _support_cell(caps.quote_quantity_market),
        stream,
        id_cell,
    ]
    return "| " + " | ".join(cells) + " |"


def adapter_factory(
    profile: CcxtVenueProfile,
) -> Callable[..., CcxtTradingAdapter]:
    """The registry's ``create_adapter`` for a venue served by ccxt. ``signer`` must also be a
    ``SecretSource`` (``eip.credentials_client.AuthRequestSigner`` is): ccxt signs in-process.
    ``base_url`` moves every REST host of the venue to one (a recording proxy, a test server);
    ``ws_base_url`` is unused until the private stream is wired."""

    def create_adapter(
        signer: RequestSigner,
        *,
        base_url: str | None = None,
        ws_base_url: str | None = None,
        **options: Any,
    ) -> CcxtTradingAdapter:
        if not isinstance(signer, SecretSource):
            raise TypeError(
                f"{profile.exchange} signs in-process through ccxt: the signer must also hand "
                "out the secret (eip.credentials_client.AuthRequestSigner does)"
            )
        return CcxtTradingAdapter(profile, signer, base_url=base_url, **options)

    return create_adapter
