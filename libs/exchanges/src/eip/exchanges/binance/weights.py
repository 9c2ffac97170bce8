"""Binance's request-weight budget, kept in step with the venue's own count.

Each endpoint has a published weight; the budget is ``REQUEST_WEIGHT`` per minute from
``exchangeInfo.rateLimits``. The venue reports what it counted in ``X-MBX-USED-WEIGHT-1M``
on every response, which overrides our estimate (other clients on the same IP count too).
A request that would exceed the budget waits for the next minute; a 429/418 blocks every
request until ``Retry-After`` has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

# https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints
WEIGHTS: Mapping[str, int] = {
    "/api/v3/exchangeInfo": 20,
    "/api/v3/aggTrades": 4,
    "/api/v3/trades": 25,
    "/api/v3/klines": 2,
    "/api/v3/ticker/24hr": 2,  # with a symbol; 80 for all
    "/api/v3/ticker/bookTicker": 2,  # with a symbol; 4 for all
    # trading (rest-api/trading-endpoints, account-endpoints)
    "/api/v3/order/amend/keepPriority": 4,
    "/api/v3/allOrders": 20,
    "/api/v3/account": 20,
}
DEFAULT_LIMIT = 6000  # spot REQUEST_WEIGHT per minute until exchangeInfo says otherwise


def weight_of(method: str, path: str, params: Mapping[str, Any]) -> int:
    """A request's weight where it depends on the method or the parameters."""
    if path == "/api/v3/order":
        return 4 if method == "GET" else 1  # query 4; place and cancel 1
    if path == "/api/v3/openOrders" and method == "GET":
        return 6 if params.get("symbol") else 80
    if path == "/api/v3/myTrades":
        return 5 if params.get("orderId") else 20
    return WEIGHTS.get(path, 1)


class WeightLimiter:
    def __init__(
        self,
        limit_per_minute: int = DEFAULT_LIMIT,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.limit = limit_per_minute
        self._clock = clock
        self._sleep = sleep
        self._minute = self._current_minute()
        self.used = 0
        self.blocked_until = 0.0

    def _current_minute(self) -> int:
        return int(self._clock() // 60)

    def _roll(self) -> None:
        minute = self._current_minute()
        if minute != self._minute:
            self._minute = minute
            self.used = 0

    def configure(self, exchange_info: Mapping[str, Any]) -> None:
        for rule in exchange_info.get("rateLimits", []):
            if rule.get("rateLimitType") == "REQUEST_WEIGHT":
                per = {"SECOND": 1, "MINUTE": 60, "DAY": 86_400}.get(rule.get("interval", ""), 60)
                seconds = per * int(rule.get("intervalNum", 1))
                if seconds == 60:
                    self.limit = int(rule["limit"])

    async def acquire(self, path: str, weight: int | None = None) -> None:
        """Wait until ``path``'s weight (or ``weight``) fits the budget, then count it."""
        weight = WEIGHTS.get(path, 1) if weight is None else weight
        while True:
            now = self._clock()
            if now < self.blocked_until:
                await self._sleep(self.blocked_until - now)
                continue
            self._roll()
            if self.used + weight <= self.limit or self.used == 0:
                self.used += weight
                return
            await self._sleep(60 - now % 60 + 0.01)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adopt the venue's count of this minute's weight."""
        used = headers.get("x-mbx-used-weight-1m") or headers.get("X-MBX-USED-WEIGHT-1M")
        if used is not None and used.isdigit():
            self._roll()
            self.used = int(used)

    def block(self, retry_after_s: float) -> None:
        self.blocked_until = max(self.blocked_until, self._clock() + retry_after_s)

    def headroom(self) -> float:
        if self._clock() < self.blocked_until:
            return 0.0
        self._roll()
        return max(0.0, min(1.0, 1 - self.used / self.limit)) if self.limit > 0 else 0.0
