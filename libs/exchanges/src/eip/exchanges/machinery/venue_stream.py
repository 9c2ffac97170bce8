"""The WebSocket loop every native adapter shares: connect while anything is wanted, follow
subscription changes on the open connection, and re-open a lost one after a jittered
exponential backoff with everything wanted (the resubscription).

A venue supplies how it opens a connection, how it (un)subscribes on an open one and how it
reads frames (and keeps the connection alive) — the hooks below. Opening may fail for a while
(the venue, or a signer the subscription needs, unreachable: retried after the backoff) or for
good (any other exception, e.g. ``CredentialRejected``: ``run`` raises it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Generic, TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from eip.exchanges.contract.errors import TransientExchangeError
from eip.exchanges.machinery.health import StreamHealth
from eip.resilience import RetryPolicy

log = logging.getLogger(__name__)

RECONNECT_POLICY = RetryPolicy(attempts=1_000_000, base_delay_s=0.25, max_delay_s=30.0)

Handler = TypeVar("Handler")


class VenueStream(Generic[Handler]):
    """Subclasses set ``exchange`` and ``noun`` (what a subscription is called, for logs)."""

    exchange: str
    noun: str

    def __init__(self, health: StreamHealth, reconnect_policy: RetryPolicy) -> None:
        self.health = health
        self.reconnect_policy = reconnect_policy
        self.wanted: set[str] = set()
        self._active: set[str] = set()
        self._conn: ClientConnection | None = None
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self.connections = 0  # successful connects, for tests and status

    async def _open(self, wanted: list[str]) -> tuple[ClientConnection, set[str]]:
        """A new connection and the subscriptions it already carries."""
        raise NotImplementedError

    def _opened(self) -> None:
        """Per-connection state to reset, under the lock, once a connection is open."""

    async def _subscribe(self, conn: ClientConnection, names: list[str]) -> None:
        raise NotImplementedError

    async def _unsubscribe(self, conn: ClientConnection, names: list[str]) -> None:
        raise NotImplementedError

    async def _serve(self, conn: ClientConnection, handler: Handler) -> None:
        """Read until the connection ends; ``ConnectionClosed`` when it was lost."""
        raise NotImplementedError

    async def add(self, names: list[str]) -> None:
        self.wanted.update(names)
        self._changed.set()
        await self._sync()

    async def remove(self, names: list[str]) -> None:
        self.wanted.difference_update(names)
        self._changed.set()
        await self._sync()

    async def _sync(self) -> None:
        """Bring the open connection's subscriptions in line with ``wanted``."""
        async with self._lock:
            conn = self._conn
            if conn is None:
                return
            new = sorted(self.wanted - self._active)
            gone = sorted(self._active - self.wanted)
            try:
                if new:
                    await self._subscribe(conn, new)
                    self._active.update(new)
                if gone:
                    await self._unsubscribe(conn, gone)
                    self._active.difference_update(gone)
            except ConnectionClosed:
                pass  # the reader notices and reconnects with everything wanted

    async def force_reconnect(self, reason: str) -> None:
        """Close the connection; ``run`` re-opens it with everything wanted."""
        conn = self._conn
        if conn is not None:
            log.warning("%s stream reconnect forced", self.exchange, extra={"reason": reason})
            self.health.error("stream", reason)
            await conn.close()

    async def run(self, handler: Handler) -> None:
        """Until cancelled: connect while anything is wanted, read, reconnect when lost."""
        delays = self.reconnect_policy.delays()
        while True:
            if not self.wanted:
                self._changed.clear()
                await self._changed.wait()
                continue
            wanted = sorted(self.wanted)
            try:
                conn, active = await self._open(wanted)
            except (
                OSError,
                TimeoutError,
                InvalidHandshake,
                InvalidURI,
                ConnectionClosed,
                TransientExchangeError,  # e.g. a signer that cannot sign the subscription now
            ) as exc:
                self.health.set_connected(False, f"connect failed: {exc!r}")
                self.health.error("stream", f"connect failed: {exc!r}")
                await asyncio.sleep(next(delays, self.reconnect_policy.max_delay_s))
                continue
            self.connections += 1
            delays = self.reconnect_policy.delays()  # the venue is reachable again
            async with self._lock:
                self._conn = conn
                self._active = active
                self._opened()
            self.health.set_connected(True, "")
            log.info("%s stream connected", self.exchange, extra={self.noun: len(wanted)})
            await self._sync()  # changes made while connecting (all of them if none carried)
            try:
                await self._serve(conn, handler)
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
            log.warning("%s stream reconnecting", self.exchange, extra={"delay_s": round(delay, 3)})
            await asyncio.sleep(delay)
