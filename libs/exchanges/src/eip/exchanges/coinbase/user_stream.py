"""Coinbase's ``user`` channel on the shared WebSocket loop.

One connection carries two subscriptions: ``user`` (the account's orders, all products) with a
JWT signed through the adapter's ``RequestSigner`` (scheme ``coinbase-ws-jwt``: the secret
stays in the auth service; a new token for every subscribe), and ``heartbeats`` — one message a
second, so silence on a quiet account still proves the connection alive and staleness means
something (Coinbase recommends it for this reason). A refused token ends the stream with
``CredentialRejected``; an auth outage is retried with the backoff like a network failure.

Ordering: ``sequence_num`` counts every message of a connection, all channels together, from
0. A gap means a message was lost: the connection is replaced, and the adapter's catch-up
covers what was missed. Because the numbers start again on every connection, the adapter's
order of updates is ``epoch * 2**32 + sequence_num`` (``position``), ``epoch`` counting
connections: an update of a later connection always sorts after one of an earlier one.

The handler hears ``on_connected`` once the subscription is confirmed — before any message of
that connection is handed over (the subscribe answer's snapshot is kept until then), so a
catch-up it runs there comes out ahead of the live messages — ``on_user`` for each ``user``
message, and ``on_disconnected`` when the connection ends. A transient failure inside
``on_user`` (a REST read the update needed) replaces the connection too, so the next catch-up
covers it; ``CredentialRejected`` ends the stream.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import orjson
from websockets.asyncio.client import ClientConnection, connect

from eip.exchanges.contract.errors import CredentialRejected, TransientExchangeError
from eip.exchanges.contract.signing import RequestSigner, SigningRequest
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.private_feed import catch_up_on_connect
from eip.exchanges.machinery.venue_stream import RECONNECT_POLICY, VenueStream
from eip.resilience import RetryPolicy

log = logging.getLogger(__name__)

EXCHANGE = "coinbase"
WANTED = "user"
EPOCH = 2**32


class UserHandler(Protocol):
    async def on_connected(self) -> None: ...

    async def on_user(self, events: list[dict[str, Any]], position: int) -> None: ...

    def on_disconnected(self) -> None: ...


class Resubscribe(Exception):
    """A message was lost (a gap in ``sequence_num``): replace the connection."""


class CoinbaseUserStream(VenueStream[UserHandler]):
    exchange = EXCHANGE
    noun = "subscriptions"

    def __init__(
        self,
        ws_url: str,
        signer: RequestSigner,
        health: StreamHealth,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
        answer_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(health, reconnect_policy)
        self.url = ws_url
        self.signer = signer
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.answer_timeout_s = answer_timeout_s
        self.epoch = 0
        self._early: list[dict[str, Any]] = []  # messages read while subscribing

    async def _open(self, wanted: list[str]) -> tuple[ClientConnection, set[str]]:
        conn = await connect(
            self.url,
            ping_interval=self.ping_interval_s,
            ping_timeout=self.ping_timeout_s,
            open_timeout=10,
            max_size=2**24,
        )
        try:
            signed = await self.signer.sign(
                SigningRequest("coinbase-ws-jwt", {}, purpose="subscribe user")
            )
            subscribe = {"type": "subscribe", "channel": WANTED, "product_ids": []}
            await conn.send(orjson.dumps({**subscribe, "jwt": signed.signature}).decode())
            self._early = await asyncio.wait_for(self._confirmed(conn), self.answer_timeout_s)
            await conn.send(orjson.dumps({"type": "subscribe", "channel": "heartbeats"}).decode())
        except BaseException:
            await conn.close()
            raise
        self.epoch += 1
        return conn, set(wanted)

    async def _confirmed(self, conn: ClientConnection) -> list[dict[str, Any]]:
        """Messages until the ``subscriptions`` one lists ``user`` (kept, to hand over after
        ``on_connected``); an ``error`` is a refused token."""
        early: list[dict[str, Any]] = []
        while True:
            message = orjson.loads(await conn.recv())
            if not isinstance(message, dict):
                continue
            if message.get("type") == "error":
                text = str(message.get("message", ""))
                if "auth" in text.lower():
                    raise CredentialRejected(EXCHANGE, f"user channel: {text}")
                raise TransientExchangeError(EXCHANGE, f"user channel: {text}")
            early.append(message)
            if message.get("channel") == "subscriptions":
                for event in message.get("events") or []:
                    if WANTED in (event.get("subscriptions") or {}):
                        return early

    async def _subscribe(self, conn: ClientConnection, names: list[str]) -> None:
        """Never called: the one subscription is made in ``_open``."""

    async def _unsubscribe(self, conn: ClientConnection, names: list[str]) -> None:
        """Never called: the subscription ends with the connection."""

    async def _serve(self, conn: ClientConnection, handler: UserHandler) -> None:
        try:
            if await catch_up_on_connect(EXCHANGE, self.health, handler.on_connected) is not None:
                return
            last: int | None = None
            early, self._early = self._early, []
            for message in early:
                last = await self._handle(message, last, handler)
            async for frame in conn:
                try:
                    message = orjson.loads(frame)
                except orjson.JSONDecodeError:
                    self.health.error("parse", f"not JSON: {str(frame)[:100]}")
                    continue
                if isinstance(message, dict):
                    last = await self._handle(message, last, handler)
        except Resubscribe as exc:
            log.warning("coinbase user channel lost a message", extra={"why": str(exc)})
            self.health.error("stream", str(exc))
        except TransientExchangeError as exc:
            # A REST read an update needed (its fills) failed: a new connection's catch-up
            # reads them, rather than go on with a hole.
            log.warning("coinbase user update incomplete; reconnecting", extra={"error": str(exc)})
            self.health.error("rest", f"user update incomplete: {exc}")
        finally:
            handler.on_disconnected()

    async def _handle(self, message: dict[str, Any], last: int | None, handler: UserHandler) -> int:
        self.health.message()
        number = message.get("sequence_num")
        if not isinstance(number, int):
            if message.get("type") == "error":
                raise Resubscribe(f"error: {message.get('message')}")
            return last if last is not None else -1
        if last is not None and number != last + 1:
            raise Resubscribe(f"sequence_num jumped from {last} to {number}")
        if message.get("channel") == WANTED:
            await handler.on_user(message.get("events") or [], self.epoch * EPOCH + number)
        return number
