"""Binance's user data stream over the WebSocket API, on the shared WebSocket loop.

One connection to ``/ws-api/v3`` carries one subscription,
``userDataStream.subscribe.signature`` (the current mechanism; the listenKey endpoints are being
retired). Its parameters are signed through the adapter's ``RequestSigner`` with the
``binance-ws-api`` scheme, so the secret stays in the auth service; a refused signature or key
ends the stream with ``CredentialRejected``, an auth outage is retried with the backoff like a
network failure. Events arrive as ``{"subscriptionId": n, "event": {...}}``.

A user data stream is quiet whenever the account does nothing, so silence says nothing about
the connection. Every ``probe_interval_s`` the stream asks ``session.subscriptions``: the answer
counts as traffic for the staleness alarm, and an answer that no longer lists the subscription
(or an ``eventStreamTerminated`` event) has the connection replaced. ``websockets`` keeps
answering and sending pings besides, so a dead peer is noticed too.

The handler hears ``on_connected`` once the subscription is confirmed — before any event of
that connection is read, so a catch-up it runs there comes out ahead of the live events —
``on_event`` for each event, and ``on_disconnected`` when the connection ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from websockets.asyncio.client import ClientConnection, connect

from eip.exchanges.binance.rest import TIMESTAMP_REJECTED
from eip.exchanges.binance.trading_wire import KEY_REFUSED
from eip.exchanges.contract.errors import (
    CircuitOpen,
    CredentialRejected,
    TransientExchangeError,
)
from eip.exchanges.contract.signing import RequestSigner, SigningRequest
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.private_feed import catch_up_on_connect
from eip.exchanges.machinery.venue_stream import RECONNECT_POLICY, VenueStream
from eip.resilience import RetryPolicy

log = logging.getLogger(__name__)

EXCHANGE = "binance"
WANTED = "userData"


class UserDataHandler(Protocol):
    async def on_connected(self) -> None: ...

    async def on_event(self, event: dict[str, Any]) -> None: ...

    def on_disconnected(self) -> None: ...


class Resubscribe(Exception):
    """The venue ended the subscription: replace the connection."""


class BinanceUserStream(VenueStream[UserDataHandler]):
    exchange = EXCHANGE
    noun = "subscriptions"

    def __init__(
        self,
        ws_api_url: str,
        signer: RequestSigner,
        now_ms: Callable[[], Awaitable[int]],
        clock_rejected: Callable[[], None],
        health: StreamHealth,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        recv_window_ms: int = 5000,
        probe_interval_s: float = 10.0,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
        answer_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(health, reconnect_policy)
        self.url = ws_api_url
        self.signer = signer
        self._now_ms = now_ms
        self._clock_rejected = clock_rejected
        self.recv_window_ms = recv_window_ms
        self.probe_interval_s = probe_interval_s
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.answer_timeout_s = answer_timeout_s
        self._ids = itertools.count(1)
        self.subscription_id: int | None = None
        self._failed_catch_ups = 0

    async def _open(self, wanted: list[str]) -> tuple[ClientConnection, set[str]]:
        conn = await connect(
            self.url,
            ping_interval=self.ping_interval_s,
            ping_timeout=self.ping_timeout_s,
            open_timeout=10,
            max_size=2**22,
        )
        try:
            self.subscription_id = await self._subscribe_user_data(conn)
        except BaseException:
            await conn.close()
            raise
        return conn, set(wanted)

    async def _subscribe_user_data(self, conn: ClientConnection) -> int:
        timestamp = await self._now_ms()
        params = {"recvWindow": self.recv_window_ms, "timestamp": timestamp}
        signed = await self.signer.sign(
            SigningRequest(
                "binance-ws-api",
                {k: str(v) for k, v in params.items()},
                purpose="userDataStream.subscribe.signature",
            )
        )
        request_id = f"subscribe-{next(self._ids)}"
        request = {
            "id": request_id,
            "method": "userDataStream.subscribe.signature",
            "params": {**params, "apiKey": signed.api_key, "signature": signed.signature},
        }
        await conn.send(orjson.dumps(request).decode())
        answer = await asyncio.wait_for(self._answer(conn, request_id), self.answer_timeout_s)
        error = answer.get("error")
        if isinstance(error, dict):
            code, msg = error.get("code"), error.get("msg", "")
            text = f"userDataStream.subscribe.signature: {code} {msg}"
            if code == TIMESTAMP_REJECTED:
                self._clock_rejected()
                raise TransientExchangeError(EXCHANGE, text)
            if code in KEY_REFUSED:
                raise CredentialRejected(EXCHANGE, text)
            raise TransientExchangeError(EXCHANGE, text)
        return int(answer["result"]["subscriptionId"])

    @staticmethod
    async def _answer(conn: ClientConnection, request_id: str) -> dict[str, Any]:
        """The answer to ``request_id`` (nothing else arrives before a subscription exists)."""
        while True:
            message = orjson.loads(await conn.recv())
            if isinstance(message, dict) and message.get("id") == request_id:
                return message

    async def _subscribe(self, conn: ClientConnection, names: list[str]) -> None:
        """Never called: the one subscription is made in ``_open``."""

    async def _unsubscribe(self, conn: ClientConnection, names: list[str]) -> None:
        """Never called: the subscription ends with the connection."""

    async def _serve(self, conn: ClientConnection, handler: UserDataHandler) -> None:
        try:
            failed = await catch_up_on_connect(EXCHANGE, self.health, handler.on_connected)
            if failed is not None:
                await asyncio.sleep(self._catch_up_pause(failed))
                return
            self._failed_catch_ups = 0
            probe = asyncio.create_task(self._probe(conn))
            try:
                await self._read(conn, handler)
            finally:
                probe.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await probe
        except Resubscribe as exc:
            log.warning("binance user data stream ended by the venue", extra={"why": str(exc)})
            self.health.error("stream", str(exc))
        finally:
            handler.on_disconnected()

    def _catch_up_pause(self, exc: TransientExchangeError) -> float:
        """How long to wait before connecting again after a failed catch-up: until the REST
        breaker lets a probe through, else growing as the reconnect policy's delays do. An
        immediate reconnect would subscribe (request weight) several times a second while
        REST is refused, until the venue bans the address and REST never recovers."""
        self._failed_catch_ups += 1
        if isinstance(exc, CircuitOpen):
            return exc.retry_after_s
        policy = self.reconnect_policy
        return min(policy.max_delay_s, policy.base_delay_s * 2.0**self._failed_catch_ups)

    async def _read(self, conn: ClientConnection, handler: UserDataHandler) -> None:
        async for frame in conn:
            try:
                message = orjson.loads(frame)
            except orjson.JSONDecodeError:
                self.health.error("parse", f"not JSON: {str(frame)[:100]}")
                continue
            if not isinstance(message, dict):
                continue
            self.health.message()
            event = message.get("event")
            if isinstance(event, dict):
                if event.get("e") == "eventStreamTerminated":
                    raise Resubscribe("eventStreamTerminated")
                await handler.on_event(event)
            elif str(message.get("id", "")).startswith("probe-"):
                listed = {s.get("subscriptionId") for s in message.get("result") or []}
                if self.subscription_id not in listed:
                    raise Resubscribe(f"subscription {self.subscription_id} no longer listed")

    async def _probe(self, conn: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.probe_interval_s)
            request = {"id": f"probe-{next(self._ids)}", "method": "session.subscriptions"}
            await conn.send(orjson.dumps(request).decode())
