"""Binance's rate limits: request weight per IP per minute, order counts per account, bans.

Over the weight limit a request gets HTTP 429 with Retry-After (seconds to the next minute);
an IP that sends more than ``ban_after_violations`` requests while limited is banned with HTTP
418 for ``ban_seconds``, doubling with every new ban, as Binance escalates them.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict, deque
from dataclasses import dataclass, field

from eip.exchange_simulator.binance.errors import BinanceError


@dataclass
class RateLimits:
    weight_per_minute: int = 6000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000
    ban_after_violations: int = 5
    ban_seconds: int = 120
    ws_messages_per_second: int = 5
    ws_connections_per_5min: int = 300


@dataclass
class _IpState:
    minute: int = -1
    weight: int = 0
    violations: int = 0
    banned_until_ms: int = 0
    bans: int = 0


@dataclass
class RateLimiter:
    limits: RateLimits = field(default_factory=RateLimits)
    _ips: dict[str, _IpState] = field(default_factory=lambda: defaultdict(_IpState))
    _orders: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))
    _ws_connects: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))
    configured: RateLimits = field(init=False)  # the limits at start, which restore() brings back

    def __post_init__(self) -> None:
        self.configured = dataclasses.replace(self.limits)

    def charge(self, ip: str, weight: int, now_ms: int) -> int:
        """Count a request's weight; return the weight used this minute, or raise 429/418."""
        state = self._ips[ip]
        if state.banned_until_ms > now_ms:
            retry = max(1, (state.banned_until_ms - now_ms + 999) // 1000)
            raise BinanceError(
                418,
                -1003,
                f"Way too much request weight used; IP banned until {state.banned_until_ms}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
                {"Retry-After": str(retry)},
            )
        minute = now_ms // 60_000
        if minute != state.minute:
            state.minute, state.weight, state.violations = minute, 0, 0
        if state.weight + weight > self.limits.weight_per_minute:
            state.violations += 1
            retry_after = str(max(1, 60 - (now_ms // 1000) % 60))
            if state.violations > self.limits.ban_after_violations:
                state.bans += 1
                seconds = self.limits.ban_seconds * 2 ** (state.bans - 1)
                state.banned_until_ms = now_ms + seconds * 1000
                raise BinanceError(
                    418,
                    -1003,
                    f"Way too much request weight used; IP banned until {state.banned_until_ms}."
                    " Please use WebSocket Streams for live updates to avoid bans.",
                    {"Retry-After": str(seconds)},
                )
            raise BinanceError(
                429,
                -1003,
                f"Too much request weight used; current limit is "
                f"{self.limits.weight_per_minute} request weight per 1 MINUTE. Please use "
                "WebSocket Streams for live updates to avoid polling the API.",
                {"Retry-After": retry_after, "X-MBX-USED-WEIGHT-1M": str(state.weight)},
            )
        state.weight += weight
        return state.weight

    def used_weight(self, ip: str) -> int:
        return self._ips[ip].weight

    def count_order(self, account_id: str, now_ms: int) -> tuple[int, int]:
        """Count one new order; return (count in 10 s, count in 1 day) or raise 429/-1015."""
        window = self._orders[account_id]
        while window and window[0] <= now_ms - 86_400_000:
            window.popleft()
        last_10s = sum(1 for t in window if t > now_ms - 10_000)
        if last_10s >= self.limits.orders_per_10s:
            raise BinanceError(
                429,
                -1015,
                f"Too many new orders; current limit is {self.limits.orders_per_10s} orders "
                "per 10 SECOND.",
            )
        if len(window) >= self.limits.orders_per_day:
            raise BinanceError(
                429,
                -1015,
                f"Too many new orders; current limit is {self.limits.orders_per_day} orders "
                "per 1 DAY.",
            )
        window.append(now_ms)
        return last_10s + 1, len(window)

    def ws_connect(self, ip: str, now_ms: int) -> bool:
        """Whether another WebSocket connection attempt from ``ip`` is allowed."""
        attempts = self._ws_connects[ip]
        while attempts and attempts[0] <= now_ms - 300_000:
            attempts.popleft()
        if len(attempts) >= self.limits.ws_connections_per_5min:
            return False
        attempts.append(now_ms)
        return True

    def reset(self) -> None:
        """Forget counters and bans."""
        self._ips.clear()
        self._orders.clear()
        self._ws_connects.clear()

    def restore(self) -> None:
        """The configured limits again (in place: streams hold the same object), no counters,
        no bans: what clearing every fault means for rate limits."""
        for limit in dataclasses.fields(RateLimits):
            setattr(self.limits, limit.name, getattr(self.configured, limit.name))
        self.reset()
