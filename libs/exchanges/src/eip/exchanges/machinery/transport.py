"""How adapters reach an exchange: one WebSocket connection type and one REST GET, injectable.

Adapters never import ``websockets`` or ``httpx`` themselves; they get a ``Transport``. Live
traffic uses ``LiveTransport``; ``recording.RecordingTransport`` wraps it to record traffic
and ``replay_transport.ReplayTransport`` replays a capture through the same two calls, so
replayed frames take exactly the code path live frames take.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

# httpx and websockets are imported by LiveTransport when one is made: a replay (and every
# process that only replays or reads captures) starts without them (about half a second).
if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection


@dataclass(frozen=True, slots=True)
class Received:
    # The frame as it came off the socket: a text frame as text, a binary frame (HTX's gzip) as
    # its bytes; a REST body is always text.
    data: str | bytes
    ts: float  # unix seconds when it arrived (the recorded time when replaying)


class TransportClosed(Exception):
    """The connection ended; a live feed reconnects."""


class TransportExhausted(TransportClosed):
    """A replay has nothing more to give; the feed's ``run`` returns."""


class TransportError(Exception):
    """A REST call failed (status, network); worth retrying."""


class Connection(Protocol):
    async def send(self, text: str) -> None: ...

    async def recv(self) -> Received:
        """The next frame (text or bytes); raises ``TransportClosed`` when the connection is
        gone."""
        ...

    async def close(self) -> None: ...


class Transport(Protocol):
    async def connect(self, url: str) -> Connection: ...

    async def get(self, url: str) -> Received:
        """The body of a successful GET; raises ``TransportError`` otherwise."""
        ...

    async def aclose(self) -> None: ...


# A burst already buffered by the socket (a stalled stream delivering at once) is read without
# ever suspending: give the event loop a turn this often, so /readyz and the API still answer.
YIELD_EVERY = 64


class LiveConnection:
    def __init__(self, ws: ClientConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        self._ws = ws
        self._received = 0
        self._closed = ConnectionClosed

    async def send(self, text: str) -> None:
        try:
            await self._ws.send(text)
        except self._closed as exc:
            raise TransportClosed(str(exc)) from exc

    async def recv(self) -> Received:
        self._received += 1
        if self._received % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        try:
            data = await self._ws.recv()
        except self._closed as exc:
            raise TransportClosed(str(exc)) from exc
        return Received(data, time.time())

    async def close(self) -> None:
        await self._ws.close()


class LiveTransport:
    """websockets for streams (it answers the server's pings and sends its own), httpx for REST."""

    def __init__(
        self,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
        http_timeout_s: float = 10.0,
    ) -> None:
        self._ping_interval_s = ping_interval_s
        import httpx

        self._ping_timeout_s = ping_timeout_s
        self._http = httpx.AsyncClient(timeout=http_timeout_s)

    async def connect(self, url: str) -> Connection:
        from websockets.asyncio.client import connect as ws_connect
        from websockets.exceptions import ConnectionClosed

        try:
            ws = await ws_connect(
                url,
                ping_interval=self._ping_interval_s,
                ping_timeout=self._ping_timeout_s,
                max_size=None,  # full-depth snapshots exceed the 1 MiB default
                open_timeout=10,
            )
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            raise TransportClosed(f"cannot connect to {url}: {exc}") from exc
        except Exception as exc:  # InvalidStatus, InvalidURI, ... from the handshake
            raise TransportClosed(f"cannot connect to {url}: {exc!r}") from exc
        return LiveConnection(ws)

    async def get(self, url: str) -> Received:
        import httpx

        try:
            response = await self._http.get(url)
        except httpx.HTTPError as exc:
            raise TransportError(f"GET {url}: {exc!r}") from exc
        if response.status_code != 200:
            raise TransportError(f"GET {url}: HTTP {response.status_code} {response.text[:200]}")
        return Received(response.text, time.time())

    async def aclose(self) -> None:
        await self._http.aclose()
