"""The market-data service's HTTP API, as the account service uses it: the latest tickers (to
seed the price graph at start, before ``md.tickers.v1`` brings new ones) and candles (prices
over time for value history, and the trades chart).

Why the live prices come from Kafka and not from here: valuing one portfolio touches every
asset's route, and the HTTP API would be one request per pair per valuation, each a little
older than the last; the topic gives every instance every ticker once, with its venue and
receive times, and valuations read memory. HTTP is used only where history is needed.

Calls carry this service's own token (client-credentials at the auth service, ``market:read``).
Failures are ``MarketDataUnavailable``: the callers then answer with unvalued points, never 0.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from eip.account.portfolio import PriceSeries


class MarketDataUnavailable(Exception):
    pass


TokenSource = Callable[[], Awaitable[str]]


class MarketDataClient:
    def __init__(self, base_url: str, token: TokenSource | None, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = httpx.AsyncClient(timeout=timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        if self._token is None:
            raise MarketDataUnavailable("no service credentials to call the market-data service")
        try:
            headers = {"Authorization": f"Bearer {await self._token()}"}
            response = await self._http.get(
                f"{self.base_url}{path}", params=params, headers=headers
            )
        except Exception as exc:  # the token source's and httpx's failures alike
            raise MarketDataUnavailable(f"market-data unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise MarketDataUnavailable(f"market-data answered HTTP {response.status_code}")
        data = response.json()
        if not isinstance(data, dict):
            raise MarketDataUnavailable("market-data answered something that is not an object")
        return data

    async def tickers(self) -> list[dict[str, Any]]:
        data = await self._get("/v1/tickers", {})
        return [t for t in data.get("tickers", []) if isinstance(t, dict)]

    async def candles(
        self, exchange: str, symbol: str, timeframe: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        data = await self._get(
            "/v1/candles",
            {
                "exchange": exchange,
                "symbol": symbol,
                "timeframe": timeframe,
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
        )
        return [c for c in data.get("candles", []) if isinstance(c, dict)]

    async def closes(
        self, exchange: str, symbol: str, timeframe: str, start: datetime, end: datetime
    ) -> PriceSeries:
        times: list[datetime] = []
        closes: list[Decimal] = []
        for c in await self.candles(exchange, symbol, timeframe, start, end):
            try:
                times.append(datetime.fromisoformat(str(c["open_time"])))
                closes.append(Decimal(str(c["close"])))
            except (KeyError, ValueError, InvalidOperation):
                continue
        order = sorted(range(len(times)), key=times.__getitem__)
        return PriceSeries([times[i] for i in order], [closes[i] for i in order])
