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
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from eip.exchanges.bitmex.wire import loads
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.venue_stream import RECONNECT_POLICY, VenueStream
from eip.resilience import RetryPolicy

__all__ = ["RECONNECT_POLICY", "BitmexStream", "OnTable", "TextKeepalive"]

log = logging.getLogger(__name__)

# (table, action, rows)
OnTable = Callable[[str, str, list[dict[str, Any]]], Awaitable[None]]


class TextKeepalive:
    """BitMEX's keepalive: a text ``ping`` after ``ping_after_s`` without a frame, and the
    connection closed when nothing (``pong`` or else) follows within ``pong_timeout_s``."""

    def __init__(self, health: StreamHealth, ping_after_s: float, pong_timeout_s: float) -> None:
        self.health = health
        self.ping_after_s = ping_after_s
        self.pong_timeout_s = pong_timeout_s
        self._last_frame = 0.0
        self.pongs = 0

    def frame(self, frame: str | bytes) -> bool:
        """Note a frame; whether it was a ``pong`` (nothing else to read in it)."""
        self._last_frame = asyncio.get_running_loop().time()
        if frame == "pong":
            self.pongs += 1
            return True
        return False

    @contextlib.asynccontextmanager
    async def running(self, conn: ClientConnection) -> AsyncIterator[None]:
        task = asyncio.create_task(self._run(conn))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, conn: ClientConnection) -> None:
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


class BitmexStream(VenueStream[OnTable]):
    exchange = "bitmex"
    noun = "topics"

    def __init__(
        self,
        ws_url: str,
        health: StreamHealth,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        ping_after_s: float = 5.0,
        pong_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(health, reconnect_policy)
        self.ws_url = ws_url
        self.keepalive = TextKeepalive(health, ping_after_s, pong_timeout_s)

    @property
    def pongs(self) -> int:
        return self.keepalive.pongs

    async def _open(self, wanted: list[str]) -> tuple[ClientConnection, set[str]]:
        # BitMEX's own text ping/pong keeps the connection alive, not protocol pings
        conn = await connect(self.ws_url, ping_interval=None, open_timeout=10, max_size=2**23)
        return conn, set()  # nothing carried: the first sync subscribes everything wanted

    async def _subscribe(self, conn: ClientConnection, names: list[str]) -> None:
        await conn.send(orjson.dumps({"op": "subscribe", "args": names}).decode())

    async def _unsubscribe(self, conn: ClientConnection, names: list[str]) -> None:
        await conn.send(orjson.dumps({"op": "unsubscribe", "args": names}).decode())

    async def _serve(self, conn: ClientConnection, handler: OnTable) -> None:
        async with self.keepalive.running(conn):
            await self._read(conn, handler)

    async def _read(self, conn: ClientConnection, on_table: OnTable) -> None:
        async for frame in conn:
            if self.keepalive.frame(frame):
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
