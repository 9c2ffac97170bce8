"""``MarketDataAdapter`` for BitMEX on its own protocols (no ccxt).

Streams: ``trade:<instrument>`` for trades (``trdMatchID`` is the id REST ``/trade`` returns, so
live and backfilled trades share one id space; the ``partial`` sent on subscribe is recent
history the backfill covers, so only ``insert`` rows are emitted), and ``instrument:<instrument>``
(24 h statistics, field-level ``update`` rows) plus ``quote:<instrument>`` (top of book) folded
into one ``Ticker``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from eip.exchanges.bitmex import candles, wire
from eip.exchanges.bitmex.limits import RequestBudget
from eip.exchanges.bitmex.rest import BitmexRest
from eip.exchanges.bitmex.stream import RECONNECT_POLICY, BitmexStream
from eip.exchanges.bitmex.symbols import symbol_map
from eip.exchanges.contract.errors import BadRequest, UnknownSymbol
from eip.exchanges.contract.market_data import (
    TIMEFRAME_SECONDS,
    Channel,
    Emit,
    Ohlcv,
    Ticker,
    Timeframe,
    Trade,
)
from eip.exchanges.contract.symbols import SymbolMap
from eip.exchanges.machinery.native_adapter import NativeAdapter
from eip.exchanges.machinery.urls import ws_url
from eip.resilience import CircuitBreaker, RetryPolicy

log = logging.getLogger(__name__)

REST_BASE = "https://www.bitmex.com/api/v1"
WS_URL = "wss://ws.bitmex.com/realtime"
MAX_COUNT = 1000  # BitMEX's largest page
CHANNELS: tuple[Channel, ...] = ("trades", "ticker")
TABLES: dict[Channel, tuple[str, ...]] = {"trades": ("trade",), "ticker": ("instrument", "quote")}


def _iso(when: datetime) -> str:
    if when.tzinfo is None:
        raise BadRequest("bitmex", "times must be timezone-aware")
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BitmexMarketDataAdapter(NativeAdapter):
    exchange = "bitmex"
    rest: BitmexRest
    stream: BitmexStream

    def __init__(
        self,
        *,
        rest_base_url: str = REST_BASE,
        ws_url: str = WS_URL,
        stale_after_s: float = 30.0,
        reconnect_when_quiet_s: float | None = None,
        retry_policy: RetryPolicy | None = None,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        breaker: CircuitBreaker | None = None,
        http_client: httpx.AsyncClient | None = None,
        budget: RequestBudget | None = None,
        ping_after_s: float = 5.0,
        pong_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(stale_after_s, reconnect_when_quiet_s, breaker)
        self.budget = budget or RequestBudget()
        self.rest = BitmexRest(
            rest_base_url,
            self.budget,
            self.breaker,
            self.health,
            retry_policy or RetryPolicy(attempts=4, base_delay_s=0.2, max_delay_s=5.0),
            client=http_client,
        )
        self.stream = BitmexStream(
            ws_url, self.health, reconnect_policy, ping_after_s, pong_timeout_s
        )
        self._tickers: dict[str, wire.TickerState] = {}

    # -- REST ---------------------------------------------------------------------------------

    async def load_markets(self) -> list[str]:
        rows = await self.rest.get("/instrument/active")
        self._symbols = symbol_map(rows)
        return sorted(self._symbols.to_exchange)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        rows = await self.rest.get("/instrument", {"symbol": await self._instrument(symbol)})
        if not rows:
            raise UnknownSymbol(self.exchange, f"no instrument row for {symbol!r}")
        return wire.TickerState(symbol).on_instrument(rows[0], datetime.now(UTC))

    async def fetch_trades(
        self, symbol: str, since: datetime | None = None, limit: int | None = None
    ) -> list[Trade]:
        """With ``since``: the oldest trades from then on; without: the latest ``limit``."""
        if since is None:
            trades = await self._trades(symbol, {"count": _count(limit), "reverse": "true"})
            trades.reverse()
            return trades
        return await self.fetch_trades_page(symbol, since, 0, limit)

    async def fetch_trades_page(
        self, symbol: str, start_time: datetime, skip: int = 0, limit: int | None = None
    ) -> list[Trade]:
        """Trades at or after ``start_time``, leaving out the first ``skip`` of them.

        BitMEX pages by time plus an offset (``start``): many trades can share one millisecond,
        so the next page starts at the last trade's time, skipping those already seen there
        (``next_page`` computes both).
        """
        params: dict[str, str | int] = {
            "startTime": _iso(start_time),
            "count": _count(limit),
            "reverse": "false",
        }
        if skip:
            params["start"] = skip
        return await self._trades(symbol, params)

    async def _trades(self, symbol: str, params: dict[str, str | int]) -> list[Trade]:
        params["symbol"] = await self._instrument(symbol)
        rows = await self.rest.get("/trade", params)
        received = datetime.now(UTC)
        return [wire.trade(symbol, row, received) for row in rows]

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: Timeframe,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Ohlcv]:
        if timeframe not in TIMEFRAME_SECONDS:
            raise BadRequest(self.exchange, f"unsupported timeframe {timeframe!r}")
        source, per = candles.SOURCE[timeframe]
        wanted = _count(limit)
        if wanted * per > MAX_COUNT:
            raise BadRequest(self.exchange, f"limit for {timeframe} must be ≤ {MAX_COUNT // per}")
        params: dict[str, str | int] = {
            "symbol": await self._instrument(symbol),
            "binSize": source,
            "partial": "false",
            "count": wanted * per,
        }
        step = timedelta(seconds=TIMEFRAME_SECONDS[source])
        if since is not None:
            # bucket timestamps close the interval: the first wanted one opens at ``start``
            start = candles.align_up(since, timeframe)
            params["startTime"] = _iso(start + step)
            params["reverse"] = "false"
        else:
            params["reverse"] = "true"
        rows = await self.rest.get("/trade/bucketed", params)
        buckets = sorted(
            (wire.bucket(symbol, source, row) for row in rows), key=lambda c: c.open_time
        )
        now = datetime.now(UTC)
        rolled = candles.roll_up(buckets, timeframe)
        span = timedelta(seconds=TIMEFRAME_SECONDS[timeframe])
        closed = [c for c in rolled if c.open_time + span <= now]
        return closed[-wanted:] if since is None else closed[:wanted]

    # -- streams ------------------------------------------------------------------------------

    async def subscribe(self, channel: Channel, symbol: str) -> None:
        if channel not in CHANNELS:
            raise BadRequest(self.exchange, f"unknown channel {channel!r}")
        instrument = await self._instrument(symbol)
        if channel == "ticker":
            self._tickers.setdefault(symbol, wire.TickerState(symbol))
        self._subscriptions.add((channel, symbol))
        await self.stream.add([f"{table}:{instrument}" for table in TABLES[channel]])

    async def unsubscribe(self, channel: Channel, symbol: str) -> None:
        if (channel, symbol) not in self._subscriptions:
            return
        instrument = await self._instrument(symbol)
        self._subscriptions.discard((channel, symbol))
        await self.stream.remove([f"{table}:{instrument}" for table in TABLES[channel]])
        if channel == "ticker":
            self._tickers.pop(symbol, None)

    async def handle_table(self, table: str, action: str, rows: list[dict[str, Any]]) -> list[Any]:
        """One realtime message → the events it carries (unsubscribed or unknown rows dropped)."""
        self.health.message()
        received = datetime.now(UTC)
        events: list[Trade | Ticker] = []
        symbols = self._symbols or SymbolMap()
        for row in rows:
            try:
                symbol = symbols.to_symbol.get(str(row.get("symbol")))
                if symbol is None:
                    continue
                if table == "trade":
                    if action == "insert" and ("trades", symbol) in self._subscriptions:
                        events.append(wire.trade(symbol, row, received))
                    continue
                state = self._tickers.get(symbol)
                if state is None:
                    continue
                if table == "instrument" and action in ("partial", "insert", "update"):
                    events.append(state.on_instrument(row, received))
                elif table == "quote" and action in ("partial", "insert"):
                    events.append(state.on_quote(row, received))
            except (KeyError, ValueError, ArithmeticError, TypeError) as exc:
                self.health.error("parse", f"{table}: {exc!r}")
                log.warning("unparseable bitmex row", extra={"table": table})
        return events

    async def run(self, emit: Emit) -> None:
        if self._symbols is None and self._subscriptions:
            await self.load_markets()

        async def on_table(table: str, action: str, rows: list[dict[str, Any]]) -> None:
            for event in await self.handle_table(table, action, rows):
                await emit(event)

        await self._run_stream(on_table)

    def _headroom(self) -> float:
        return self.budget.headroom()


def next_page(trades: list[Trade], previous_skip: int = 0) -> tuple[datetime, int]:
    """Where the page after ``trades`` (ascending, non-empty) starts: ``(startTime, start)``.

    ``previous_skip`` is the offset the page itself was fetched with: when every trade on the
    page shares the start time, the skip grows instead of restarting.
    """
    if not trades:
        raise ValueError("an empty page has no next page")
    last = trades[-1].exchange_time
    assert last is not None  # BitMEX trades always carry a timestamp
    same = sum(1 for t in trades if t.exchange_time == last)
    if trades[0].exchange_time == last:
        same += previous_skip
    return last, same


def _count(limit: int | None) -> int:
    if limit is None:
        return 500
    if not 1 <= limit <= MAX_COUNT:
        raise BadRequest("bitmex", f"limit must be 1..{MAX_COUNT}, got {limit}")
    return limit


def create_adapter(
    *, base_url: str | None = None, ws_base_url: str | None = None, **options: Any
) -> BitmexMarketDataAdapter:
    """The registry's factory: ``base_url`` moves REST and, unless ``ws_base_url`` says
    otherwise, the realtime stream to one host."""
    if base_url is not None:
        options.setdefault("rest_base_url", base_url)
    if ws_base_url is not None:
        options.setdefault("ws_url", ws_base_url)
    elif base_url is not None:
        # BitMEX serves REST under /api/v1 and the stream at /realtime on the same host
        ws_host = ws_url(base_url).rstrip("/").removesuffix("/api/v1")
        options.setdefault("ws_url", ws_host + "/realtime")
    return BitmexMarketDataAdapter(**options)
