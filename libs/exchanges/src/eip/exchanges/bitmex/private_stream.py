"""BitMEX's realtime WebSocket for one account, on the shared loop: the ``order``,
``execution`` and ``margin`` tables, authenticated with ``authKeyExpires``.

Authentication signs ``GET/realtime`` + expires through the adapter's ``RequestSigner`` (the
``bitmex-rest`` scheme with an empty body), before the socket opens, so a key the auth service
refuses never connects and the secret never comes here. BitMEX answers 401 to a key it refuses:
both end the stream with ``CredentialRejected``.

**Tables.** Every subscription starts with a ``partial`` (the table as it stands, with its
``keys``), then ``insert``, ``update`` and ``delete`` messages whose rows carry the keys and, for
an update, only the fields that changed. ``Tables`` keeps the ``order`` and ``margin`` tables by
their keys and hands the handler each row merged to full; an update for a row the table never
held (its partial was not received) comes as it is, and the handler reads the rest over REST.
Closed orders are dropped from the kept table (BitMEX keeps them a while; nothing follows).

**Ordering.** Subscription acks and partials may come before the handler's ``on_connected``
(which runs the REST catch-up): they are kept and handed over after it, so the catch-up comes
out ahead of every message of the new connection.

**Staleness.** A private stream is quiet whenever the account is; BitMEX's text ``ping`` after
``ping_after_s`` without a frame is answered with ``pong``, and every frame (pongs included)
counts as traffic, so silence means the connection, not the account.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

import orjson
from websockets.asyncio.client import ClientConnection, connect

from eip.exchanges.bitmex.stream import TextKeepalive
from eip.exchanges.bitmex.wire import EXCHANGE, loads
from eip.exchanges.contract.errors import CredentialRejected, TransientExchangeError
from eip.exchanges.contract.signing import RequestSigner, SigningRequest
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.private_feed import catch_up_on_connect
from eip.exchanges.machinery.venue_stream import RECONNECT_POLICY, VenueStream
from eip.resilience import RetryPolicy

log = logging.getLogger(__name__)

WANTED = "order+execution+margin"
TABLES = ("order", "execution", "margin")
KEPT = ("order", "margin")  # execution rows are only ever inserted
DEFAULT_KEYS: Mapping[str, tuple[str, ...]] = {
    "order": ("orderID",),
    "margin": ("account", "currency"),
}
_CLOSED = frozenset({"Filled", "Canceled", "Rejected", "Expired"})


class PrivateHandler(Protocol):
    async def on_connected(self) -> None: ...

    async def on_table(self, table: str, action: str, rows: list[dict[str, Any]]) -> None: ...

    def on_disconnected(self) -> None: ...


class Tables:
    """The kept tables of one connection (partial / insert / update / delete)."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, ...]] = dict(DEFAULT_KEYS)
        self._rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {t: {} for t in KEPT}

    def apply(self, message: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows of one table message, merged to what the table holds for them."""
        table = str(message.get("table"))
        action = str(message.get("action"))
        data = [row for row in message.get("data") or [] if isinstance(row, dict)]
        if table not in self._rows:
            return data
        rows = self._rows[table]
        if action == "partial":
            keys = message.get("keys")
            if isinstance(keys, list) and keys:
                self._keys[table] = tuple(str(k) for k in keys)
            rows.clear()
        keys = self._keys[table]
        out = []
        for row in data:
            ident = tuple(row.get(k) for k in keys)
            merged = {**rows.get(ident, {}), **row}
            if action == "delete" or (table == "order" and merged.get("ordStatus") in _CLOSED):
                rows.pop(ident, None)
            else:
                rows[ident] = merged
            out.append(merged)
        return out


class BitmexPrivateStream(VenueStream[PrivateHandler]):
    exchange = EXCHANGE
    noun = "tables"

    def __init__(
        self,
        url: str,
        signer: RequestSigner,
        health: StreamHealth,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        ping_after_s: float = 5.0,
        pong_timeout_s: float = 5.0,
        answer_timeout_s: float = 10.0,
        expires_after_s: int = 30,
    ) -> None:
        super().__init__(health, reconnect_policy)
        self.url = url
        self.signer = signer
        self.keepalive = TextKeepalive(health, ping_after_s, pong_timeout_s)
        self.answer_timeout_s = answer_timeout_s
        self.expires_after_s = expires_after_s
        self.tables = Tables()
        self._early: list[dict[str, Any]] = []  # table messages that came before the acks

    async def _open(self, wanted: list[str]) -> tuple[ClientConnection, set[str]]:
        expires = str(int(time.time()) + self.expires_after_s)
        signed = await self.signer.sign(
            SigningRequest(
                "bitmex-rest",
                {"verb": "GET", "path": "/realtime", "expires": expires, "body": ""},
                purpose="authKeyExpires",
            )
        )
        # BitMEX's own text ping/pong keeps the connection alive, not protocol pings
        conn = await connect(self.url, ping_interval=None, open_timeout=10, max_size=2**23)
        try:
            self._early = []
            auth = {
                "op": "authKeyExpires",
                "args": [signed.api_key, int(expires), signed.signature],
            }
            await asyncio.wait_for(self._handshake(conn, auth), self.answer_timeout_s)
        except BaseException:
            await conn.close()
            raise
        return conn, set(wanted)

    def _opened(self) -> None:
        self.tables = Tables()

    async def _handshake(self, conn: ClientConnection, auth: dict[str, Any]) -> None:
        await conn.send(orjson.dumps(auth).decode())
        await self._answer(conn, "authKeyExpires", None)
        await conn.send(orjson.dumps({"op": "subscribe", "args": list(TABLES)}).decode())
        for table in TABLES:
            await self._answer(conn, "subscribe", table)

    async def _answer(self, conn: ClientConnection, op: str, table: str | None) -> None:
        """Read until the answer to ``op`` (for ``table``); keep table messages meanwhile."""
        while True:
            frame = await conn.recv()
            self.keepalive.frame(frame)
            try:
                message = loads(frame)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            if "table" in message:
                self._early.append(message)
                continue
            request = message.get("request")
            if not isinstance(request, dict) or request.get("op") != op:
                continue
            if "error" in message:
                text = f"{op}: {message.get('status', '')} {message['error']}"
                if message.get("status") in (401, 403):
                    raise CredentialRejected(EXCHANGE, text)
                raise TransientExchangeError(EXCHANGE, text)
            if table is None or message.get("subscribe") == table:
                return

    async def _subscribe(self, conn: ClientConnection, names: list[str]) -> None:
        """Never called: the tables are subscribed in ``_open``."""

    async def _unsubscribe(self, conn: ClientConnection, names: list[str]) -> None:
        """Never called: the subscriptions end with the connection."""

    async def _serve(self, conn: ClientConnection, handler: PrivateHandler) -> None:
        try:
            if await catch_up_on_connect(EXCHANGE, self.health, handler.on_connected) is not None:
                return
            early, self._early = self._early, []
            for message in early:  # frames of this connection, counted now they are read
                self.health.message()
                await self._dispatch(message, handler)
            async with self.keepalive.running(conn):
                async for frame in conn:
                    self.health.message()
                    if self.keepalive.frame(frame):
                        continue
                    try:
                        message = loads(frame)
                    except ValueError:
                        self.health.error("parse", f"not JSON: {str(frame)[:100]}")
                        continue
                    if isinstance(message, dict) and "table" in message:
                        await self._dispatch(message, handler)
                    elif isinstance(message, dict) and "error" in message:
                        self.health.error("stream", f"venue error: {message['error']}")
        finally:
            handler.on_disconnected()

    async def _dispatch(self, message: Mapping[str, Any], handler: PrivateHandler) -> None:
        table = str(message.get("table"))
        if table in TABLES:
            rows = self.tables.apply(message)
            await handler.on_table(table, str(message.get("action")), rows)
