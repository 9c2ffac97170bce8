"""Local HTTP/WebSocket servers for clients whose network code we do not own (ccxt).

``RecordingProxy`` forwards every GET and WebSocket to one upstream host and writes what passes
to a capture; ``ReplayServer`` answers from a capture through ``ReplayTransport`` (same
matching rules as the adapters' replays). Point the client's URLs at ``base_url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from itertools import count
from typing import Any

import aiohttp
from aiohttp import web

from eip.exchanges.machinery.capture import CaptureWriter, recv_entry
from eip.exchanges.machinery.replay_transport import ReplayTransport
from eip.exchanges.machinery.transport import TransportExhausted
from eip.exchanges.machinery.urls import ws_origin


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


class _LocalServer:
    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))  # an ephemeral port, known before serving
        port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError


class RecordingProxy(_LocalServer):
    def __init__(self, upstream: str, writer: CaptureWriter, exchange: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.writer = writer
        self.prefix = exchange.upper()
        self._ws_ids = count(1)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        self._session = aiohttp.ClientSession()
        return await super().start()

    async def stop(self) -> None:
        await super().stop()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        if _is_websocket(request):
            return await self._websocket(request)
        url = self.upstream + request.path_qs
        async with self._session.request(request.method, url, headers=_forwarded(request)) as up:
            body = await up.text()
            if request.method == "GET" and up.status == 200:
                self.writer.write(
                    {
                        "t": "http",
                        "conn": f"{self.prefix}.http.0",
                        "ts": time.time(),
                        "url": url,
                        "data": body,
                    }
                )
            return web.Response(
                text=body, status=up.status, content_type=up.content_type or "application/json"
            )

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        client = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await client.prepare(request)
        addr = ws_origin(self.upstream) + request.path_qs
        conn = f"{self.prefix}.ws.{next(self._ws_ids)}"
        async with self._session.ws_connect(addr, max_msg_size=0, autoping=True) as upstream:
            self.writer.write({"t": "connect", "conn": conn, "ts": time.time(), "addr": addr})

            async def downstream() -> None:
                async for message in upstream:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        self.writer.write(recv_entry(conn, time.time(), message.data))
                        await client.send_str(message.data)
                    elif message.type == aiohttp.WSMsgType.BINARY:  # kept as b64
                        self.writer.write(recv_entry(conn, time.time(), message.data))
                        await client.send_bytes(message.data)
                await client.close()

            pump = asyncio.create_task(downstream())
            try:
                async for message in client:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        self.writer.write(
                            {
                                "t": "send",
                                "conn": conn,
                                "ts": time.time(),
                                "addr": addr,
                                "data": message.data,
                            }
                        )
                        await upstream.send_str(message.data)
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump
        return client


def _forwarded(request: web.Request) -> dict[str, str]:
    skip = {"host", "content-length", "connection", "upgrade", "accept-encoding"}
    return {k: v for k, v in request.headers.items() if k.lower() not in skip}


class ReplayServer(_LocalServer):
    """Serves a capture; ``idle`` is set once every recorded frame has been sent."""

    def __init__(self, transport: ReplayTransport, first_message_wait_s: float = 1.0) -> None:
        super().__init__()
        self.transport = transport
        self.first_message_wait_s = first_message_wait_s
        self.idle = asyncio.Event()
        self.http_served = 0
        self.frames_sent = 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if _is_websocket(request):
            return await self._websocket(request)
        try:
            response = await self.transport.get(str(request.url))
        except TransportExhausted as exc:
            return web.json_response({"error": str(exc)}, status=404)
        self.http_served += 1
        body = response.data
        if isinstance(body, bytes):  # REST bodies are recorded as text; never bytes
            return web.Response(body=body, content_type="application/json")
        return web.Response(text=body, content_type="application/json")

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self.idle.clear()
        try:
            conn = await self.transport.connect(str(request.url))
        except TransportExhausted:
            await ws.close()
            return ws
        # The client's first message (its subscription) picks the recorded connection.
        with contextlib.suppress(TimeoutError):
            first: Any = await asyncio.wait_for(ws.receive(), self.first_message_wait_s)
            if first.type == aiohttp.WSMsgType.TEXT:
                await conn.send(first.data)
        reader = asyncio.create_task(self._drain(ws, conn))
        try:
            while True:
                # One turn per frame, as frames arriving over a network give: ccxt loads its
                # REST snapshots beside the stream, and must see them where it saw them live
                # (the replay connection itself yields only now and then).
                await asyncio.sleep(0)
                try:
                    frame = await conn.recv()
                except TransportExhausted:
                    break
                if isinstance(frame.data, bytes):
                    await ws.send_bytes(frame.data)
                else:
                    await ws.send_str(frame.data)
                self.frames_sent += 1
            self.idle.set()
            await reader  # keep the socket open until the client leaves
        finally:
            reader.cancel()
        return ws

    async def _drain(self, ws: web.WebSocketResponse, conn: Any) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await conn.send(message.data)
