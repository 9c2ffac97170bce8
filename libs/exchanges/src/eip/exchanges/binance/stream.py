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

from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.venue_stream import RECONNECT_POLICY, VenueStream
from eip.resilience import RetryPolicy

__all__ = ["RECONNECT_POLICY", "BinanceStream", "OnEvent"]

log = logging.getLogger(__name__)

OnEvent = Callable[[str, dict[str, Any]], Awaitable[None]]

# Binance drops a connection that sends more than 5 messages a second
CONTROL_INTERVAL_S = 0.25


class BinanceStream(VenueStream[OnEvent]):
    exchange = "binance"
    noun = "streams"

    def __init__(
        self,
        ws_base_url: str,
        health: StreamHealth,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
    ) -> None:
        super().__init__(health, reconnect_policy)
        self.ws_base_url = ws_base_url.rstrip("/")
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self._next_id = 1
        self._pending: dict[int, str] = {}
        self._last_control = 0.0

    async def _open(self, wanted: list[str]) -> tuple[ClientConnection, set[str]]:
        # every wanted stream rides in the URL: that is the resubscription
        url = f"{self.ws_base_url}/stream?streams={'/'.join(wanted)}"
        conn = await connect(
            url,
            ping_interval=self.ping_interval_s,
            ping_timeout=self.ping_timeout_s,
            open_timeout=10,
            max_size=2**22,
        )
        return conn, set(wanted)

    def _opened(self) -> None:
        self._pending.clear()

    async def _subscribe(self, conn: ClientConnection, names: list[str]) -> None:
        await self._control(conn, "SUBSCRIBE", names)

    async def _unsubscribe(self, conn: ClientConnection, names: list[str]) -> None:
        await self._control(conn, "UNSUBSCRIBE", names)

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

    async def _serve(self, conn: ClientConnection, handler: OnEvent) -> None:
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
                await handler(stream, data)
