"""One Binance combined-stream connection that keeps itself alive.

It connects to ``/stream?streams=a/b/...`` with everything wanted at that moment, then follows
later changes with ``SUBSCRIBE``/``UNSUBSCRIBE`` (numbered ids, acknowledgements checked). A lost
connection is re-opened after a jittered exponential backoff with every wanted stream in the
URL, which is the resubscription. ``websockets`` answers Binance's pings with pongs and sends
its own pings, so a dead peer is noticed within ``ping_interval_s + ping_timeout_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from eip.exchanges.health import StreamHealth
from eip.resilience import RetryPolicy

log = logging.getLogger(__name__)

OnEvent = Callable[[str, dict[str, Any]], Awaitable[None]]

RECONNECT_POLICY = RetryPolicy(attempts=1_000_000, base_delay_s=0.25, max_delay_s=30.0)
# Binance drops a connection that sends more than 5 messages a second
CONTROL_INTERVAL_S = 0.25


class BinanceStream:
    def __init__(
        self,
        ws_base_url: str,
        health: StreamHealth,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
    ) -> None:
        self.ws_base_url = ws_base_url.rstrip("/")
        self.health = health
        self.reconnect_policy = reconnect_policy
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.wanted: set[str] = set()
        self._active: set[str] = set()
        self._conn: ClientConnection | None = None
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._next_id = 1
        self._pending: dict[int, str] = {}
        self._last_control = 0.0
        self.connections = 0  # successful connects, for tests and status

    async def add(self, names: list[str]) -> None:
        self.wanted.update(names)
        self._changed.set()
        await self._sync()

    async def remove(self, names: list[str]) -> None:
        self.wanted.difference_update(names)
        self._changed.set()
        await self._sync()

    async def _sync(self) -> None:
        """Bring the open connection's streams in line with ``wanted``."""
        async with self._lock:
            conn = self._conn
            if conn is None:
                return
            new = sorted(self.wanted - self._active)
            gone = sorted(self._active - self.wanted)
            try:
                if new:
                    await self._control(conn, "SUBSCRIBE", new)
                    self._active.update(new)
                if gone:
                    await self._control(conn, "UNSUBSCRIBE", gone)
                    self._active.difference_update(gone)
            except ConnectionClosed:
                pass  # the reader notices and reconnects with everything wanted

    async def force_reconnect(self, reason: str) -> None:
        """Close the connection; ``run`` re-opens it with every wanted stream."""
        conn = self._conn
        if conn is not None:
            log.warning("binance stream reconnect forced", extra={"reason": reason})
            self.health.error("stream", reason)
            await conn.close()

    async def _control(self, conn: ClientConnection, method: str, names: list[str]) -> None:
        loop = asyncio.get_running_loop()
        wait = self._last_control + CONTROL_INTERVAL_S - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_control = loop.time()
        req_id = self._next_id
        self._next_id += 1
        self._pending[req_id] = f"{method} {names}"
        await conn.send(orjson.dumps({"method": method, "params": names, "id": req_id}).decode())

    async def run(self, on_event: OnEvent) -> None:
        """Until cancelled: connect while anything is wanted, read, reconnect when lost."""
        delays = self.reconnect_policy.delays()
        while True:
            if not self.wanted:
                self._changed.clear()
                await self._changed.wait()
                continue
            streams = sorted(self.wanted)
            url = f"{self.ws_base_url}/stream?streams={'/'.join(streams)}"
            try:
                conn = await connect(
                    url,
                    ping_interval=self.ping_interval_s,
                    ping_timeout=self.ping_timeout_s,
                    open_timeout=10,
                    max_size=2**22,
                )
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                self.health.set_connected(False, f"connect failed: {exc!r}")
                self.health.error("stream", f"connect failed: {exc!r}")
                await asyncio.sleep(next(delays, self.reconnect_policy.max_delay_s))
                continue
            self.connections += 1
            delays = self.reconnect_policy.delays()  # the venue is reachable again
            async with self._lock:
                self._conn = conn
                self._active = set(streams)
                self._pending.clear()
            self.health.set_connected(True, "")
            log.info("binance stream connected", extra={"streams": len(streams)})
            await self._sync()  # changes made while connecting
            try:
                await self._read(conn, on_event)
                self.health.error("stream", "connection closed by the venue")
            except ConnectionClosed as exc:
                self.health.error("stream", f"connection lost: {exc}")
            finally:
                async with self._lock:
                    self._conn = None
                    self._active = set()
                self.health.set_connected(False)
                await conn.close()
            self.health.reconnecting()
            delay = next(delays, self.reconnect_policy.max_delay_s)
            log.warning("binance stream reconnecting", extra={"delay_s": round(delay, 3)})
            await asyncio.sleep(delay)

    async def _read(self, conn: ClientConnection, on_event: OnEvent) -> None:
        async for frame in conn:
            try:
                msg = orjson.loads(frame)
            except orjson.JSONDecodeError:
                self.health.error("parse", f"not JSON: {str(frame)[:100]}")
                continue
            if not isinstance(msg, dict):
                continue
            if "id" in msg and ("result" in msg or "error" in msg):
                what = self._pending.pop(msg["id"], "?")
                if msg.get("error"):
                    self.health.error("stream", f"{what} refused: {msg['error']}")
                    log.error("binance control refused", extra={"request": what})
                continue
            stream, data = msg.get("stream"), msg.get("data")
            if isinstance(stream, str) and isinstance(data, dict):
                await on_event(stream, data)
