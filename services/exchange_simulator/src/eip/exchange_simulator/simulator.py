"""Assembles one simulator: the exchange core, its market, its faults, and the dialects (Binance
REST and streams; Kraken spot REST and WebSocket v2; Coinbase Advanced Trade REST and WebSocket).

Everything runs on one event loop, so long admin work (``run_steps``) gives the loop back
every few milliseconds: health checks, streams and orders go on while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from eip.exchange_simulator.binance.ratelimit import RateLimiter, RateLimits
from eip.exchange_simulator.binance.replay import load_capture
from eip.exchange_simulator.binance.streams import MarketStreams, StreamSettings
from eip.exchange_simulator.binance.trading import Trading
from eip.exchange_simulator.binance.user_streams import UserStreams
from eip.exchange_simulator.binance.venue import Venue
from eip.exchange_simulator.binance.ws_api import WsApi
from eip.exchange_simulator.coinbase.streams import CoinbaseStreams
from eip.exchange_simulator.coinbase.venue import CoinbaseVenue
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.core.instruments import load_instruments
from eip.exchange_simulator.core.market import (
    Action,
    GeneratedMarket,
    GeneratorConfig,
    LiquidityProvider,
    replay,
)
from eip.exchange_simulator.kraken.venue import KrakenVenue
from eip.exchange_simulator.settings import SimulatorSettings
from eip.exchanges.machinery.capture import CaptureError

log = logging.getLogger(__name__)
STEP_SLICE_S = 0.01  # market steps run at most this long before the loop gets a turn


class ReplayFileError(ValueError):
    """The replay capture cannot be used; the simulator refuses to start, saying why."""


class Simulator:
    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self.replay_actions: list[Action] = []
        if settings.market == "replay":
            if settings.replay_file is None:
                raise ValueError("SIMULATOR_REPLAY_FILE is required when SIMULATOR_MARKET=replay")
            try:
                capture = load_capture(settings.replay_file)
            except (CaptureError, OSError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise ReplayFileError(
                    f"SIMULATOR_REPLAY_FILE {settings.replay_file}: {why}"
                ) from None
            instruments, self.replay_actions = capture.instruments, capture.actions
        else:
            instruments = load_instruments(settings.instruments_file)
        self.exchange = Exchange(instruments)
        self.faults = Faults()
        self.limiter = RateLimiter(
            RateLimits(
                weight_per_minute=settings.weight_per_minute,
                orders_per_10s=settings.orders_per_10s,
                orders_per_day=settings.orders_per_day,
                ws_messages_per_second=settings.ws_messages_per_second,
            )
        )
        self.faults.on_clear(self.limiter.restore)
        self.venue = Venue(self.exchange, self.limiter, self.faults)
        self.trading = Trading(self.exchange, self.limiter)
        self.user_streams = UserStreams(self.exchange)
        self.streams = MarketStreams(
            self.exchange,
            self.faults,
            self.limiter.limits,
            StreamSettings(connection_lifetime_s=settings.connection_lifetime_s),
        )
        self.ws_api = WsApi(self.exchange, self.user_streams, self.faults, self.trading)
        self.kraken = KrakenVenue(self.exchange, self.faults)
        self.coinbase_venue = CoinbaseVenue(self.exchange, self.faults)
        self.coinbase = CoinbaseStreams(self.coinbase_venue, self.faults)
        self.provider = LiquidityProvider(self.exchange)
        self.generators = (
            [
                GeneratedMarket(
                    self.exchange,
                    s,
                    settings.seed,
                    GeneratorConfig(step_seconds=settings.step_seconds),
                    self.provider,
                )
                for s in sorted(self.exchange.instruments)
            ]
            if settings.market == "generate"
            else []
        )
        for generator in self.generators:
            generator.warm_up(settings.warmup_seconds)
        self.market_running = asyncio.Event()
        self.market_running.set()
        self.replay_done = asyncio.Event()

    def step_market(self, steps: int = 1) -> None:
        for _ in range(steps):
            for generator in self.generators:
                generator.step()

    async def run_steps(self, steps: int) -> None:
        """``steps`` market steps in slices of STEP_SLICE_S, yielding to the loop between
        slices (each step is atomic; other work sees the market between steps)."""
        loop = asyncio.get_running_loop()
        slice_end = loop.time() + STEP_SLICE_S
        for _ in range(steps):
            self.step_market()
            if loop.time() >= slice_end:
                await asyncio.sleep(0)
                slice_end = loop.time() + STEP_SLICE_S

    def clear_faults(self) -> None:
        """Every fault gone: REST and stream faults, rate limits back to their configured
        values (counters and bans forgotten), the clock's skew, halted symbols."""
        self.faults.clear()
        self.exchange.clock_skew_ms = 0
        for inst in self.exchange.instruments.values():
            inst.status = "TRADING"

    async def _drive_market(self, stop: asyncio.Event) -> None:
        if self.replay_actions:
            await self.market_running.wait()
            applied = await replay(
                self.exchange,
                self.replay_actions,
                self.settings.replay_speed,
                self.provider,
            )
            log.info("replay finished", extra={"actions": applied})
            self.replay_done.set()
            return
        while not stop.is_set():
            await self.market_running.wait()
            try:
                self.step_market()
            except Exception:
                log.exception("market step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.step_seconds)

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(self.streams.run(stop)),
            asyncio.create_task(self.kraken.run(stop)),
            asyncio.create_task(self.coinbase.run(stop)),
        ]
        if self.generators or self.replay_actions:
            tasks.append(asyncio.create_task(self._drive_market(stop)))
        try:
            yield
        finally:
            stop.set()
            self.market_running.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
