"""Kraken's authenticated WebSocket v2 (``wss://ws-auth.kraken.com/v2``) on the shared loop:
the ``executions`` and ``balances`` channels of one account.

Every request on this socket carries a token from the REST ``GetWebSocketsToken`` — a signed
private call, so signed through the auth service like any other; the secret never comes here.
A token must be used within 15 minutes of being issued and then stays good on that socket, so
each connection asks for a fresh one. A token Kraken refuses (``ESession:Invalid session``) is
retried on a new connection with a new token; a key the auth service or Kraken refuses ends the
stream with ``CredentialRejected``.

Kraken pushes both subscriptions' snapshots (open orders; every asset's total) before it
acknowledges them. They are kept and handed to the handler after ``on_connected``, so a REST
catch-up run there comes out ahead of them and of every live message. Kraken sends a
``heartbeat`` every second once subscribed: silence is staleness (``StreamHealth``).

The handler hears ``on_connected`` (before any message of the connection), ``on_message`` for
each ``executions`` or ``balances`` message, and ``on_disconnected`` when the connection ends.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from websockets.asyncio.client import ClientConnection, connect

from eip.exchanges.contract.errors import CredentialRejected, TransientExchangeError
from eip.exchanges.kraken.rest import decode
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.private_feed import catch_up_on_connect
from eip.exchanges.machinery.venue_stream import RECONNECT_POLICY, VenueStream
from eip.resilience import RetryPolicy

log = logging.getLogger(__name__)

EXCHANGE = "kraken"
WANTED = "executions+balances"
CHANNELS = ("executions", "balances")
INVALID_SESSION = "ESession:Invalid session"
_KEY_ERRORS = frozenset({"EGeneral:Permission denied", "EAPI:Invalid key"})


class PrivateHandler(Protocol):
    async def on_connected(self) -> None: ...

    async def on_message(self, message: dict[str, Any]) -> None: ...

    def on_disconnected(self) -> None: ...


class KrakenPrivateStream(VenueStream[PrivateHandler]):
    exchange = EXCHANGE
    noun = "channels"

    def __init__(
        self,
        url: str,
        token: Callable[[], Awaitable[str]],
        health: StreamHealth,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
        answer_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(health, reconnect_policy)
        self.url = url
        self._token = token
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.answer_timeout_s = answer_timeout_s
        self._ids = itertools.count(1)
        self._early: list[dict[str, Any]] = []  # snapshots that came before the acks

    async def _open(self, wanted: list[str]) -> tuple[ClientConnection, set[str]]:
        token = await self._token()  # before connecting: a refused key never opens a socket
        conn = await connect(
            self.url,
            ping_interval=self.ping_interval_s,
            ping_timeout=self.ping_timeout_s,
            open_timeout=10,
            max_size=2**22,
        )
        try:
            self._early = []
            await asyncio.wait_for(self._subscribe_all(conn, token), self.answer_timeout_s)
        except BaseException:
            await conn.close()
            raise
        return conn, set(wanted)

    async def _subscribe_all(self, conn: ClientConnection, token: str) -> None:
        params: dict[str, dict[str, Any]] = {
            "executions": {"snap_orders": True, "snap_trades": False, "order_status": True},
            "balances": {"snapshot": True},
        }
        pending: dict[int, str] = {}
        for channel in CHANNELS:
            req_id = next(self._ids)
            pending[req_id] = channel
            request = {
                "method": "subscribe",
                "params": {"channel": channel, "token": token, **params[channel]},
                "req_id": req_id,
            }
            await conn.send(orjson.dumps(request).decode())
        while pending:
            message = decode(await conn.recv())
            if not isinstance(message, dict):
                continue
            if message.get("method") == "subscribe" and message.get("req_id") in pending:
                channel = pending.pop(message["req_id"])
                if message.get("success") is not True:
                    error = str(message.get("error", "refused"))
                    text = f"subscribe {channel}: {error}"
                    if error in _KEY_ERRORS:
                        raise CredentialRejected(EXCHANGE, text)
                    raise TransientExchangeError(EXCHANGE, text)
            elif message.get("channel") in CHANNELS:
                self._early.append(message)

    async def _subscribe(self, conn: ClientConnection, names: list[str]) -> None:
        """Never called: both channels are subscribed in ``_open``."""

    async def _unsubscribe(self, conn: ClientConnection, names: list[str]) -> None:
        """Never called: the subscriptions end with the connection."""

    async def _serve(self, conn: ClientConnection, handler: PrivateHandler) -> None:
        try:
            if await catch_up_on_connect(EXCHANGE, self.health, handler.on_connected) is not None:
                return
            early, self._early = self._early, []
            for message in early:  # frames of this connection, counted now they are read
                self.health.message()
                await handler.on_message(message)
            async for frame in conn:
                try:
                    message = decode(frame)
                except ValueError:
                    self.health.error("parse", f"not JSON: {str(frame)[:100]}")
                    continue
                if not isinstance(message, dict):
                    continue
                self.health.message()
                if message.get("channel") in CHANNELS:
                    await handler.on_message(message)
        finally:
            handler.on_disconnected()
