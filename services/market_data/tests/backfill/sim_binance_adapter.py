"""A minimal Binance REST history adapter over the exchange simulator, for backfill tests until
the platform's adapters (eip.exchanges) land; only ``fetch_trades`` / ``fetch_ohlcv`` work.

``adapter_for`` reads the simulator's URL from ``EIP_TEST_SIMULATOR_URL`` so a backfill
subprocess can load it with ``--adapters sim_binance_adapter:adapter_for``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from eip.exchanges.market_data import (
    Channel,
    Emit,
    MarketDataAdapter,
    Ohlcv,
    StreamStatus,
    Ticker,
    Timeframe,
    Trade,
)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class SimBinanceHistory:
    exchange = "binance"

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10.0)
        self.calls = 0

    async def _get(self, path: str, **params: str | int) -> list[object]:
        self.calls += 1
        response = await self.http.get(path, params=params)
        response.raise_for_status()
        body = response.json()
        assert isinstance(body, list)
        return body

    async def fetch_trades(
        self, symbol: str, since: datetime | None = None, limit: int | None = None
    ) -> list[Trade]:
        params: dict[str, str | int] = {"symbol": symbol.replace("/", ""), "limit": limit or 500}
        if since is not None:
            params["startTime"] = _ms(since)
        now = datetime.now(UTC)
        rows = await self._get("/api/v3/aggTrades", **params)
        return [
            Trade(
                exchange="binance",
                symbol=symbol,
                trade_id=str(r["a"]),
                price=Decimal(r["p"]),
                amount=Decimal(r["q"]),
                taker_side="sell" if r["m"] else "buy",
                exchange_time=_utc(r["T"]),
                received_time=now,
            )
            for r in rows
            if isinstance(r, dict)
        ]

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: Timeframe,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Ohlcv]:
        params: dict[str, str | int] = {
            "symbol": symbol.replace("/", ""),
            "interval": timeframe,
            "limit": limit or 500,
        }
        if since is not None:
            params["startTime"] = _ms(since)
        rows = await self._get("/api/v3/klines", **params)
        return [
            Ohlcv(
                exchange="binance",
                symbol=symbol,
                timeframe=timeframe,
                open_time=_utc(r[0]),
                open=Decimal(r[1]),
                high=Decimal(r[2]),
                low=Decimal(r[3]),
                close=Decimal(r[4]),
                base_volume=Decimal(r[5]),
                quote_volume=Decimal(r[7]),
                trade_count=int(r[8]),
            )
            for r in rows
            if isinstance(r, list)
        ]

    async def load_markets(self) -> list[str]:
        raise NotImplementedError

    async def fetch_ticker(self, symbol: str) -> Ticker:
        raise NotImplementedError

    async def subscribe(self, channel: Channel, symbol: str) -> None:
        raise NotImplementedError

    async def unsubscribe(self, channel: Channel, symbol: str) -> None:
        raise NotImplementedError

    async def run(self, emit: Emit) -> None:
        raise NotImplementedError

    def status(self) -> StreamStatus:
        raise NotImplementedError

    async def close(self) -> None:
        await self.http.aclose()


async def adapter_for(exchange: str) -> MarketDataAdapter:
    assert exchange == "binance", exchange
    return SimBinanceHistory(os.environ["EIP_TEST_SIMULATOR_URL"])
