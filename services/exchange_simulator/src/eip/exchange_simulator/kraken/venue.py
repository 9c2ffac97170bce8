"""The Kraken dialect as one piece the simulator mounts: its state, REST routers (public,
private, and its admin controls), the public and authenticated WebSocket v2 endpoints, and the
heartbeat task. The simulator knows Kraken only through this class."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, WebSocket
from pydantic import BaseModel, Field

from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.kraken.dialect import KrakenDialect
from eip.exchange_simulator.kraken.private_streams import KrakenPrivateStreams
from eip.exchange_simulator.kraken.ratelimit import KrakenLimits
from eip.exchange_simulator.kraken.rest import kraken_rest_router
from eip.exchange_simulator.kraken.rest_private import private_router
from eip.exchange_simulator.kraken.streams import KrakenStreams

PUBLIC_WS_PATH = "/kraken/v2"  # real: wss://ws.kraken.com/v2
PRIVATE_WS_PATH = "/kraken/v2-auth"  # real: wss://ws-auth.kraken.com/v2
HEARTBEAT_S = 1.0


class KrakenLimitsSpec(BaseModel):
    """A tier's limits, then any single number overridden."""

    tier: Literal["starter", "intermediate", "pro"] | None = None
    api_max: float | None = Field(default=None, gt=0)
    api_decay_per_s: float | None = Field(default=None, ge=0)
    order_max: float | None = Field(default=None, gt=0)
    order_decay_per_s: float | None = Field(default=None, ge=0)
    open_orders_max: int | None = Field(default=None, ge=1)


class KrakenVenue:
    def __init__(self, exchange: Exchange, faults: Faults) -> None:
        self.dialect = KrakenDialect(exchange, faults)
        # DELETE /admin/v1/faults restores what a test tightened: Kraken's limits too.
        faults.on_clear(self.dialect.limiter.reset)
        self.public = KrakenStreams(self.dialect)
        self.private = KrakenPrivateStreams(self.dialect)

    @property
    def connections(self) -> list[object]:
        """Every open Kraken WebSocket, public and authenticated."""
        return [*self.public.connections, *self.private.connections]

    async def run(self, stop: asyncio.Event) -> None:
        """Heartbeats: once a second to every connection with a subscription."""
        while not stop.is_set():
            await asyncio.sleep(HEARTBEAT_S)
            self.public.heartbeat()
            self.private.heartbeat()

    def admin_router(self) -> APIRouter:
        router = APIRouter(prefix="/admin/v1/kraken", tags=["admin", "kraken"])
        limiter = self.dialect.limiter

        @router.post("/rate-limits")
        async def set_limits(body: KrakenLimitsSpec) -> dict[str, Any]:
            """Kraken's counters: a tier (starter, intermediate, pro), or single numbers."""
            if body.tier is not None:
                limiter.limits = KrakenLimits.of_tier(body.tier)
            for name, value in body.model_dump(exclude_none=True, exclude={"tier"}).items():
                setattr(limiter.limits, name, value)
            return vars(limiter.limits)

        @router.post("/rate-limits/reset")
        async def reset_limits() -> dict[str, Any]:
            """Forget every counter and go back to the default tier."""
            limiter.reset()
            return vars(limiter.limits)

        return router

    def install(self, app: FastAPI) -> None:
        app.include_router(kraken_rest_router(self.dialect))
        app.include_router(private_router(self.dialect))
        app.include_router(self.admin_router())

        @app.websocket(PUBLIC_WS_PATH)
        async def public(ws: WebSocket) -> None:
            """Kraken WebSocket API v2, public market data. Binance's connection limits are
            Binance's: not applied here."""
            await ws.accept()
            await self.public.serve(ws)

        @app.websocket(PRIVATE_WS_PATH)
        async def private(ws: WebSocket) -> None:
            """Kraken WebSocket API v2, authenticated: executions, balances, trading."""
            await ws.accept()
            await self.private.serve(ws)
