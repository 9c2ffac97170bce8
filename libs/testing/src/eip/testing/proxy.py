"""A TCP relay in front of a shared server, so a test can cut its own connections to it."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

from eip.testing.simulator import free_port


class TcpProxy:
    """A TCP relay in front of a shared server (Vault, PostgreSQL, the simulator): closing it is
    this test's outage, and the shared server itself is never sealed or stopped.

    ``drop_responses``: while set, what the server sends back is swallowed — requests still
    reach it and take effect, their answers never arrive (a lost response, as a client sees a
    load balancer that dies after forwarding). ``stop`` then ``start`` again: an outage that
    ends, on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.drop_responses = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, answers: bool) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    if answers and self.drop_responses:
                        continue
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))

    async def stop(self) -> None:
        """The outage: refuse new connections and cut the open ones."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                w.close()
        self._writers.clear()


def via_proxy(url: str, proxy: TcpProxy) -> str:
    """``url`` (e.g. a PostgreSQL DSN) with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    credentials, _, _ = parts.netloc.rpartition("@")
    host = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}" if credentials else host))
