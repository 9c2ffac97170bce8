"""A venue account driven by the test, behind the ``TradingAdapter`` contract: the sync is
tested through the same protocol real adapters implement (the simulator tests use the real
Binance adapter). Balances and fills are what the test sets; REST can be made to fail, and the
private stream is a queue the test pushes events into and can cut."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from eip.exchanges.contract.errors import NotSupported, TransientExchangeError
from eip.exchanges.contract.market_data import StreamStatus
from eip.exchanges.contract.trading import (
    AssetBalance,
    BalanceUpdate,
    FillCursor,
    FillPage,
    InstrumentRules,
    OcoRequest,
    OrderRequest,
    PrivateEvent,
    TradingCapabilities,
    VenueFill,
    VenueOrder,
)


@dataclass
class ScriptedVenue:
    exchange: str = "venue"
    balances: dict[str, AssetBalance] = field(default_factory=dict)
    fills: list[VenueFill] = field(default_factory=list)
    rest_down: bool = False
    stream_connected: bool = True
    stream: bool = True
    stream_down: bool = False  # new stream connections are refused while set
    calls: dict[str, int] = field(default_factory=dict)
    closed: bool = False

    def __post_init__(self) -> None:
        self.capabilities = TradingCapabilities(private_stream=self.stream, balance_stream=True)
        self._events: asyncio.Queue[PrivateEvent | Exception] = asyncio.Queue()

    def _rest(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.rest_down:
            raise TransientExchangeError(self.exchange, "HTTP 503 injected")

    # -- the test's side ---------------------------------------------------------------

    def set_balance(self, asset: str, free: str, locked: str = "0", wallet: str = "spot") -> None:
        self.balances[f"{asset}:{wallet}"] = AssetBalance(
            asset, Decimal(free), Decimal(locked), wallet
        )

    def push_balance(self, asset: str, free: str, locked: str = "0") -> None:
        self.set_balance(asset, free, locked)
        now = datetime.now(UTC)
        self._events.put_nowait(
            BalanceUpdate(self.exchange, [self.balances[f"{asset}:spot"]], False, now, now)
        )

    def push(self, event: PrivateEvent) -> None:
        self._events.put_nowait(event)

    def cut_stream(self) -> None:
        """Close the stream and refuse new connections until ``restore_stream``."""
        self.stream_down = True
        self.stream_connected = False
        self._events.put_nowait(TransientExchangeError(self.exchange, "stream closed"))

    def restore_stream(self) -> None:
        self.stream_down = False

    def fill(
        self, trade_id: int, side: str = "buy", price: str = "100", qty: str = "1"
    ) -> VenueFill:
        f = VenueFill(
            exchange=self.exchange,
            symbol="BTC/USD",
            trade_id=str(trade_id),
            venue_order_id=f"o{trade_id}",
            client_order_id=None,
            side="buy" if side == "buy" else "sell",
            price=Decimal(price),
            quantity=Decimal(qty),
            fee=Decimal("0.001"),
            fee_asset="BTC",
            liquidity="taker",
            time=datetime(2026, 1, 1, tzinfo=UTC).replace(second=trade_id % 60),
        )
        self.fills.append(f)
        return f

    # -- TradingAdapter ------------------------------------------------------------------

    async def fetch_balances(self) -> list[AssetBalance]:
        self._rest("fetch_balances")
        return list(self.balances.values())

    async def fetch_fills(
        self, symbol: str | None, cursor: FillCursor | None = None, limit: int | None = None
    ) -> FillPage:
        self._rest("fetch_fills")
        start = int(cursor.value) if cursor else 0
        page = self.fills[start : start + (limit or 100)]
        return FillPage(page, FillCursor(symbol, str(start + len(page))))

    async def load_rules(self) -> dict[str, InstrumentRules]:
        return {}

    # -- orders: the account service never places, amends or cancels ----------------------

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        raise NotSupported(self.exchange, "scripted venue")

    async def place_oco(self, request: OcoRequest) -> list[VenueOrder]:
        raise NotSupported(self.exchange, "scripted venue")

    async def cancel_order(
        self, symbol: str, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> VenueOrder:
        raise NotSupported(self.exchange, "scripted venue")

    async def amend_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> VenueOrder:
        raise NotSupported(self.exchange, "scripted venue")

    async def fetch_order(
        self, symbol: str, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> VenueOrder:
        raise NotSupported(self.exchange, "scripted venue")

    async def fetch_open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        return []

    async def fetch_closed_orders(
        self, symbol: str | None, since: datetime, limit: int | None = None
    ) -> list[VenueOrder]:
        return []

    def private_events(self) -> AsyncIterator[PrivateEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[PrivateEvent]:
        if self.stream_down:
            self.stream_connected = False
            raise TransientExchangeError(self.exchange, "stream connection refused")
        self.stream_connected = True
        while True:
            item = await self._events.get()
            if isinstance(item, Exception):
                raise item
            yield item

    def status(self) -> StreamStatus:
        return StreamStatus(self.exchange, self.stream_connected, None, 0.0, 0, False, False, None)

    async def close(self) -> None:
        self.closed = True
