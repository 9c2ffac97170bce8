"""A transport wrapper that writes every frame and REST body it passes to a capture file."""

from __future__ import annotations

import time
from itertools import count

from eip.exchanges.machinery.capture import CaptureWriter, recv_entry
from eip.exchanges.machinery.transport import Connection, Received, Transport


class RecordingConnection:
    def __init__(self, inner: Connection, writer: CaptureWriter, conn: str, addr: str) -> None:
        self._inner = inner
        self._writer = writer
        self._conn = conn
        self._addr = addr

    async def send(self, text: str) -> None:
        self._writer.write(
            {"t": "send", "conn": self._conn, "ts": time.time(), "addr": self._addr, "data": text}
        )
        await self._inner.send(text)

    async def recv(self) -> Received:
        frame = await self._inner.recv()
        self._writer.write(recv_entry(self._conn, frame.ts, frame.data))
        return frame

    async def close(self) -> None:
        await self._inner.close()


class RecordingTransport:
    def __init__(self, inner: Transport, writer: CaptureWriter, exchange: str) -> None:
        self._inner = inner
        self._writer = writer
        self._prefix = exchange.upper()
        self._ws_ids = count(1)

    async def connect(self, url: str) -> Connection:
        inner = await self._inner.connect(url)
        conn = f"{self._prefix}.ws.{next(self._ws_ids)}"
        self._writer.write({"t": "connect", "conn": conn, "ts": time.time(), "addr": url})
        return RecordingConnection(inner, self._writer, conn, url)

    async def get(self, url: str) -> Received:
        response = await self._inner.get(url)
        self._writer.write(
            {
                "t": "http",
                "conn": f"{self._prefix}.http.0",
                "ts": response.ts,
                "url": url,
                "data": response.data,
            }
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
