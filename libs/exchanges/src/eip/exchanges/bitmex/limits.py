"""BitMEX's request budget, as the venue reports it on every response.

BitMEX counts requests per minute per IP/key and says where we stand in
``x-ratelimit-limit`` / ``x-ratelimit-remaining`` / ``x-ratelimit-reset`` (unix seconds when the
budget refills). We trust those numbers over our own count, wait for the reset when nothing is
left, and after a 429 block every request until ``Retry-After`` has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

DEFAULT_LIMIT = 30  # unauthenticated requests per minute until the venue says otherwise


class RequestBudget:
    def __init__(
        self,
        limit_per_minute: int = DEFAULT_LIMIT,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.limit = limit_per_minute
        self.remaining = limit_per_minute
        self.reset_at = 0.0
        self.blocked_until = 0.0
        self._clock = clock
        self._sleep = sleep

    def _refill(self, now: float) -> None:
        if self.reset_at and now >= self.reset_at:
            self.remaining = self.limit
            self.reset_at = 0.0

    async def acquire(self) -> None:
        while True:
            now = self._clock()
            if now < self.blocked_until:
                await self._sleep(self.blocked_until - now)
                continue
            self._refill(now)
            if self.remaining > 0:
                self.remaining -= 1
                return
            # nothing left: wait for the venue's reset (a minute when it never told us)
            await self._sleep(max(0.01, (self.reset_at or now + 60) - now))
            if not self.reset_at:
                self.remaining = self.limit

    def observe(self, headers: Mapping[str, str]) -> None:
        limit = headers.get("x-ratelimit-limit")
        remaining = headers.get("x-ratelimit-remaining")
        reset = headers.get("x-ratelimit-reset")
        if limit is not None and limit.isdigit() and int(limit) > 0:
            self.limit = int(limit)
        if remaining is not None and remaining.isdigit():
            self.remaining = int(remaining)
        if reset is not None and reset.isdigit():
            self.reset_at = float(reset)

    def block(self, retry_after_s: float) -> None:
        self.blocked_until = max(self.blocked_until, self._clock() + retry_after_s)
        if self.remaining <= 0:
            # Retry-After is the venue's word on when the budget is back
            self.reset_at = self.blocked_until

    def headroom(self) -> float:
        now = self._clock()
        if now < self.blocked_until:
            return 0.0
        self._refill(now)
        return max(0.0, min(1.0, self.remaining / self.limit)) if self.limit > 0 else 0.0
