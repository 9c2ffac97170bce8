"""A service keeps an idle keep-alive connection open past its clients' own expiry.

httpx closes a connection idle for 5 s, and uvicorn's default closed it at 5 s as well: a client
reusing a connection at that moment had it closed under its request (ReadError; auth's key
validation then answered 502). Every service is served by ``eip.observability.http.serve``;
the simulator, a service like the others, is the one started here.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from eip.observability.http import KEEP_ALIVE_S
from eip.testing.simulator import SimulatorProcess

pytestmark = pytest.mark.integration

IDLE_S = 7.0  # past httpx's 5 s and uvicorn's default 5 s


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> bytes:
    writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await asyncio.wait_for(reader.readexactly(length), 10)
    return head.split(b"\r\n", 1)[0]


async def test_an_idle_connection_is_still_served_after_the_clients_own_expiry(
    simulator_process: SimulatorProcess,
) -> None:
    assert KEEP_ALIVE_S > IDLE_S
    url = urlsplit(simulator_process.base_url)
    assert url.hostname
    assert url.port
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        assert await _get(reader, writer, url.netloc) == b"HTTP/1.1 200 OK"
        await asyncio.sleep(IDLE_S)
        assert not reader.at_eof(), "the service closed an idle keep-alive connection"
        assert await _get(reader, writer, url.netloc) == b"HTTP/1.1 200 OK"
    finally:
        writer.close()
