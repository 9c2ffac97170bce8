"""What order management knows of the market: the live reference price per instrument (the mid of
the latest ``md.tickers.v1`` record, with the time the platform received it, so a stale price
is refused rather than used), the last trade price (``md.trades.v1``, for emulated triggers), and
the order-book service's estimate of a market order's slippage.

Each instance reads both topics in a group of its own from the latest offset: every instance
needs every current price, and a restart starts from now (a trigger needs live prices, not
yesterday's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import httpx

from eip.bus import Record
from eip.events.v1 import market_data_pb2

TokenSource = Callable[[], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Quote:
    bid: Decimal
    ask: Decimal
    received: datetime  # when the platform received the ticker (its EventTimes)

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


def _decimal(text: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


class MarketPrices:
    def __init__(self) -> None:
        self._quotes: dict[tuple[str, str], Quote] = {}

    def quote(self, exchange: str, symbol: str) -> Quote | None:
        return self._quotes.get((exchange, symbol))

    def mid(
        self, exchange: str, symbol: str, max_age_s: float
    ) -> tuple[Decimal | None, float | None]:
        """(mid, age in seconds): the mid when fresher than ``max_age_s``, else (None, age)."""
        quote = self._quotes.get((exchange, symbol))
        if quote is None:
            return None, None
        age = (datetime.now(UTC) - quote.received).total_seconds()
        return (quote.mid if age <= max_age_s else None), age

    def put_quote(self, exchange: str, symbol: str, quote: Quote) -> None:
        current = self._quotes.get((exchange, symbol))
        if current is None or quote.received >= current.received:
            self._quotes[(exchange, symbol)] = quote

    async def handle_ticker(self, record: Record) -> None:
        ticker = record.message
        assert isinstance(ticker, market_data_pb2.Ticker)
        bid, ask = _decimal(ticker.bid), _decimal(ticker.ask)
        if bid is None or ask is None or bid > ask:
            return
        received = (
            ticker.times.received_time.ToDatetime(tzinfo=UTC)
            if ticker.times.HasField("received_time")
            else datetime.now(UTC)
        )
        self.put_quote(
            ticker.instrument.exchange, ticker.instrument.symbol, Quote(bid, ask, received)
        )


@dataclass(frozen=True, slots=True)
class SlippageEstimate:
    average_price: Decimal | None
    slippage_bps: Decimal | None  # vs mid, positive = worse for the taker
    complete: bool
    filled_notional: Decimal


class SlippageUnavailable(Exception):
    """The order-book service could not estimate (down, book out of sync, unknown book)."""


class SlippageClient:
    """``GET /v1/books/{exchange}/{BASE-QUOTE}/slippage`` of the order-book service, with a token
    of this service's (``books:read``)."""

    def __init__(
        self,
        base_url: str,
        token: TokenSource | None,
        *,
        timeout_s: float = 2.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = http or httpx.AsyncClient(timeout=timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def estimate(
        self,
        exchange: str,
        symbol: str,
        side: str,
        *,
        size: Decimal | None = None,
        notional: Decimal | None = None,
    ) -> SlippageEstimate:
        params = {"side": side}
        if size is not None:
            params["size"] = str(size)
        if notional is not None:
            params["notional"] = str(notional)
        headers = {}
        try:
            if self._token is not None:
                headers["Authorization"] = f"Bearer {await self._token()}"
            response = await self._http.get(
                f"{self.base_url}/v1/books/{exchange}/{symbol.replace('/', '-')}/slippage",
                params=params,
                headers=headers,
            )
        except Exception as exc:  # an estimate we cannot get is a denial, never a crash
            raise SlippageUnavailable(
                f"order-book service unreachable ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = f"http_{response.status_code}"
            raise SlippageUnavailable(f"order-book service answered {response.status_code} {code}")
        data = response.json()
        return SlippageEstimate(
            average_price=_decimal(data.get("average_price") or ""),
            slippage_bps=(
                Decimal(data["slippage_vs_mid_bps"])
                if data.get("slippage_vs_mid_bps") not in (None, "")
                else None
            ),
            complete=bool(data.get("complete")),
            filled_notional=Decimal(data.get("filled_notional") or "0"),
        )
