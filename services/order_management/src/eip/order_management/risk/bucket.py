"""The order-rate limit: a token bucket per account (``order_burst`` tokens, refilled at
``order_rate_per_s``). Kept in memory by the account's owner; a new owner starts with full
buckets (documented: a takeover may let one burst through)."""

from __future__ import annotations

import time
from decimal import Decimal


class TokenBuckets:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # account -> (tokens, at)

    def take(
        self, account_id: str, rate_per_s: Decimal, burst: int, now: float | None = None
    ) -> float | None:
        """Take one token; None if taken, else the seconds until one is there."""
        now = time.monotonic() if now is None else now
        rate = float(rate_per_s)
        tokens, at = self._buckets.get(account_id, (float(burst), now))
        tokens = min(float(burst), tokens + (now - at) * rate)
        if tokens >= 1:
            self._buckets[account_id] = (tokens - 1, now)
            return None
        self._buckets[account_id] = (tokens, now)
        return (1 - tokens) / rate

    def forget(self, account_id: str) -> None:
        self._buckets.pop(account_id, None)
