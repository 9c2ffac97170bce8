"""One dialect-neutral WebSocket session of a market-data feed: an outgoing queue drained by a
writer task (through the stream faults: stall, delay), a read loop handing each text frame to the
dialect, and a clean close. The exchange pushes into the queue synchronously, so a slow client
never blocks the matching engine; one that stops reading altogether is dropped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from eip.exchange_simulator.core.faults import Faults

log = logging.getLogger(__name__)

QUEUE_LIMIT = 200_000


class WsSession:
    def __init__(self, ws: WebSocket, faults: Faults, venue: str | None = None) -> None:
        self.ws = ws
        self.faults = faults
        self.venue = venue  # the dialect, whose stream faults apply besides everyone's
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = False

    def push(self, text: str) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            log.warning("dropping a client that stopped reading")
            self.close()
            return
        self.queue.put_nowait(text)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)

    def drop(self) -> None:
        """Close now, as a network failure would (the admin drop fault)."""
        self.close()
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().create_task(self.ws.close(1001))

    async def _write(self) -> None:
        while (text := await self.queue.get()) is not None:
            await self.faults.before_send(self.venue)
            await self.ws.send_text(text)

    async def run(self, on_text: Callable[[str], None]) -> None:
        """Serve until the client leaves or the session is closed; ``on_text`` answers by
        pushing. Returns once the connection is finished."""
        writer = asyncio.create_task(self._write())
        try:
            while not self.closed and not writer.done():
                receive = asyncio.create_task(self.ws.receive_text())
                done, _ = await asyncio.wait({receive, writer}, return_when=asyncio.FIRST_COMPLETED)
                if receive not in done:
                    receive.cancel()
                    return
                try:
                    text = receive.result()
                except (WebSocketDisconnect, RuntimeError, KeyError):
                    return
                on_text(text)
        finally:
            self.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 2)
            writer.cancel()
            if self.ws.application_state is not WebSocketState.DISCONNECTED:
                with contextlib.suppress(Exception):
                    await self.ws.close(1000)
