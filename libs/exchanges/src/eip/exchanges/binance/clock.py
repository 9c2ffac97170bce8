"""The venue's clock as signed Binance requests need it.

A signed request carries ``timestamp``; Binance refuses it (-1021) unless it is less than one
second ahead of the server and no more than ``recvWindow`` behind. The offset between our clock
and the server's is measured from ``GET /api/v3/time`` on first use and again after any -1021,
so a drifting host or a venue whose clock moved costs one refused request, not every request.

What is subtle: the window is lopsided (1 s ahead, ``recvWindow`` behind), and a measurement
only says that the server read its clock somewhere between our send and our receipt, so the
offset lies in ``[serverTime - received, serverTime - sent]``. Taking the middle (half the round
trip as the answer's age) assumes both halves were equally fast; on a loaded host the request
waits before it leaves, and the middle put our stamps a second or more *ahead* of the server —
each then refused (seen: offsets of +0.5 to +1 s measured between two processes of one host in
the chaos test). So an offset the measurement does not contradict is kept, and otherwise the
low end is taken: our stamps are then never ahead, and at most one round trip behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


class ServerClock:
    def __init__(
        self,
        server_time: Callable[[], Awaitable[Any]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._server_time = server_time  # GET /api/v3/time
        self._clock = clock
        self.offset_ms = 0
        self._synced = False
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """The venue refused a timestamp: measure again before the next signed request."""
        self._synced = False

    async def now_ms(self) -> int:
        if not self._synced:
            await self.sync()
        return int(self._clock() * 1000) + self.offset_ms

    async def sync(self) -> None:
        async with self._lock:
            if self._synced:
                return
            sent = self._clock()
            body = await self._server_time()
            received = self._clock()
            server_ms = int(body["serverTime"])
            lowest = server_ms - int(received * 1000)
            highest = server_ms - int(sent * 1000)
            offset = self.offset_ms if lowest <= self.offset_ms <= highest else lowest
            if abs(offset - self.offset_ms) > 500:
                log.warning(
                    "binance clock offset changed",
                    extra={"offset_ms": offset, "was": self.offset_ms},
                )
            self.offset_ms = offset
            self._synced = True
