"""One BitMEX realtime connection that keeps itself alive.

After the welcome message it sends ``{"op": "subscribe", "args": [...]}`` with every wanted
topic (``trade:XBTUSD``, ...) — on every (re)connect, which is the resubscription — and follows
later changes with ``subscribe``/``unsubscribe``. BitMEX asks clients to send a text ``ping``
when nothing arrived for a few seconds and to drop the connection when no ``pong`` (or anything
else) follows; a lost connection is re-opened after a jittered exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from eip.exchanges.bitmex.parse import loads
from eip.exchanges.health import StreamHealth
from eip.resilience import RetryPolicy

log = logging.getLogger(__name__)

# (table, action, rows)
OnTable = Callable[[str, str, list[dict[str, Any]]], Awaitable[None]]

RECONNECT_POLICY = RetryPolicy(attempts=1_000_000, base_delay_s=0.25, max_delay_s=30.0)


class BitmexStream:
    def __init__(
        self,
        ws_url: str,
        health: StreamHealth,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        ping_after_s: float = 5.0,
        pong_timeout_s: float = 5.0,
    ) -> None:
        self.ws_url = ws_url
        self.health = health
        self.reconnect_policy = reconnect_policy
        self.ping_after_s = ping_after_s
        self.pong_timeout_s = pong_timeout_s
        self.wanted: set[str] = set()
        self._active: set[str] = set()
        self._conn: ClientConnection | None = None
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._last_frame = 0.0
        self.connections = 0  # successful connects, for tests and status
        self.pongs = 0

    async def add(self, topics: list[str]) -> None:
        self.wanted.update(topics)
        self._changed.set()
        await self._sync()

    async def remove(self, topics: list[str]) -> None:
        self.wanted.difference_update(topics)
        self._changed.set()
        await self._sync()

    async def _sync(self) -> None:
        async with self._lock:
            conn = self._conn
            if conn is None:
                return
            new = sorted(self.wanted - self._active)
            gone = sorted(self._active - self.wanted)
            try:
                if new:
                    await conn.send(orjson.dumps({"op": "subscribe", "args": new}).decode())
                    self._active.update(new)
                if gone:
                    await conn.send(orjson.dumps({"op": "unsubscribe", "args": gone}).decode())
                    self._active.difference_update(gone)
            except ConnectionClosed:
                pass  # the reader notices and reconnects with everything wanted

    async def force_reconnect(self, reason: str) -> None:
        conn = self._conn
        if conn is not None:
            log.warning("bitmex stream reconnect forced", extra={"reason": reason})
            self.health.error("stream", reason)
            await conn.close()

    async def run(self, on_table: OnTable) -> None:
        """Until cancelled: connect while anything is wanted, read, reconnect when lost."""
        delays = self.reconnect_policy.delays()
        while True:
            if not self.wanted:
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                # BitMEX's own text ping/pong keeps the connection alive, not protocol pings
                conn = await connect(
                    self.ws_url, ping_interval=None, open_timeout=10, max_size=2**23
                )
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                self.health.set_connected(False, f"connect failed: {exc!r}")
                self.health.error("stream", f"connect failed: {exc!r}")
                await asyncio.sleep(next(delays, self.reconnect_policy.max_delay_s))
                continue
            self.connections += 1
            delays = self.reconnect_policy.delays()
            async with self._lock:
                self._conn = conn
                self._active = set()
            self.health.set_connected(True, "")
            log.info("bitmex stream connected", extra={"topics": len(self.wanted)})
            await self._sync()  # subscribes everything wanted: the resubscription
            keepalive = asyncio.create_task(self._keepalive(conn))
            try:
                await self._read(conn, on_table)
                self.health.error("stream", "connection closed by the venue")
            except ConnectionClosed as exc:
                self.health.error("stream", f"connection lost: {exc}")
            finally:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keepalive
                async with self._lock:
                    self._conn = None
                    self._active = set()
                self.health.set_connected(False)
                await conn.close()
            self.health.reconnecting()
            delay = next(delays, self.reconnect_policy.max_delay_s)
            log.warning("bitmex stream reconnecting", extra={"delay_s": round(delay, 3)})
            await asyncio.sleep(delay)

    async def _keepalive(self, conn: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        self._last_frame = loop.time()
        pinged_at: float | None = None
        while True:
            await asyncio.sleep(min(self.ping_after_s, self.pong_timeout_s) / 2)
            now = loop.time()
            quiet = now - self._last_frame
            if pinged_at is not None and self._last_frame < pinged_at:
                if now - pinged_at > self.pong_timeout_s:
                    self.health.error("stream", "no pong")
                    await conn.close()
                    return
                continue
            pinged_at = None
            if quiet > self.ping_after_s:
                pinged_at = now
                with contextlib.suppress(ConnectionClosed):
                    await conn.send("ping")

    async def _read(self, conn: ClientConnection, on_table: OnTable) -> None:
        loop = asyncio.get_running_loop()
        async for frame in conn:
            self._last_frame = loop.time()
            if frame == "pong":
                self.pongs += 1
                continue
            try:
                msg = loads(frame)
            except ValueError:
                self.health.error("parse", f"not JSON: {str(frame)[:100]}")
                continue
            if not isinstance(msg, dict):
                continue
            if "error" in msg:
                self.health.error("stream", f"venue error: {msg['error']}")
                log.error("bitmex stream error", extra={"error": str(msg["error"])})
                continue
            if "success" in msg or "info" in msg:
                if msg.get("success") is False:
                    self.health.error("stream", f"refused: {msg}")
                continue  # subscribe acks and the welcome message
            table, action, data = msg.get("table"), msg.get("action"), msg.get("data")
            if isinstance(table, str) and isinstance(action, str) and isinstance(data, list):
                await on_table(table, action, data)
