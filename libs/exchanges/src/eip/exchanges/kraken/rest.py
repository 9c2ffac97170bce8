"""Kraken REST on the shared loop: the API counter, Kraken's error array, nonces.

Kraken answers almost everything with HTTP 200 and ``{"error": [...], "result": ...}``; a
non-empty ``error`` is the refusal, kept as Kraken wrote it (``KrakenApiError``) so the trading
adapter can map it to the platform's vocabulary. A few are the transport's business and become
the shared errors here:

- ``EAPI:Invalid nonce``: nothing was done; a read is retried with a fresh nonce, a placement
  raises (not placed, safe to send again).
- ``EAPI:Rate limit exceeded``: ``RateLimited``; the local counter is set to full, so the next
  call waits until Kraken's has decayed.
- ``EService:Unavailable`` / ``EService:Busy``: transient, nothing done.
- ``EService:Deadline elapsed``: Kraken gave up waiting for its engine *after* taking the
  request, so a placement's outcome is unknown (``KrakenDeadline``; the adapter raises
  ``OutcomeUnknown`` for it).

**The API counter** (docs.kraken.com, "Spot REST Rate Limits"): every private call adds its
cost to a per-key counter that decays continuously (starter tier: at most 15, -0.33/s;
``TradesHistory`` costs 2, order entry and cancels 0 — they have their own trading counter).
``ApiCounter`` keeps the same count on this side and waits before a call that would pass the
maximum, so a busy adapter slows down instead of being refused.

**Nonces** must rise strictly per key at Kraken. ``Nonces`` gives microseconds since the epoch
(so an adapter started after another user of the key — the auth service's validator — is above
it) and never repeats; the adapter sends one private call at a time, so they also arrive in order.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from eip.exchanges.contract.errors import (
    BadRequest,
    ExchangeError,
    RateLimited,
    TransientExchangeError,
)
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.venue_rest import Params, VenueRest, retry_after_seconds
from eip.resilience import CircuitBreaker, RetryPolicy

EXCHANGE = "kraken"
PRIVATE = "/0/private/"
INVALID_NONCE = "EAPI:Invalid nonce"
API_RATE_LIMIT = "EAPI:Rate limit exceeded"
DEADLINE_ELAPSED = "EService:Deadline elapsed"
_TRANSIENT = frozenset(
    {"EService:Unavailable", "EService:Busy", "EGeneral:Internal error", "EAPI:Invalid nonce"}
)

# tier -> (counter maximum, decay per second), Kraken's published API counter
TIERS: Mapping[str, tuple[float, float]] = {
    "starter": (15, 0.33),
    "intermediate": (20, 0.5),
    "pro": (20, 1.0),
}
_COSTS: Mapping[str, float] = {
    "TradesHistory": 2,
    "Ledgers": 2,
    "QueryLedgers": 2,
    "AddOrder": 0,
    "AddOrderBatch": 0,
    "AmendOrder": 0,
    "EditOrder": 0,
    "CancelOrder": 0,
    "CancelOrderBatch": 0,
    "CancelAll": 0,
}


class KrakenApiError(BadRequest):
    """Kraken refused: ``errors`` as it wrote them (``EOrder:Insufficient funds``, ...)."""

    def __init__(self, path: str, errors: list[str]) -> None:
        super().__init__(EXCHANGE, f"{path}: {'; '.join(errors)}")
        self.errors = errors

    @property
    def error(self) -> str:
        return self.errors[0]


class KrakenDeadline(TransientExchangeError):
    """``EService:Deadline elapsed``: the request was taken and not finished in time."""


def method_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]


@dataclass
class ApiCounter:
    """This key's API counter as Kraken keeps it; ``acquire`` waits until a call fits."""

    maximum: float
    decay_per_s: float
    _level: float = 0.0
    _at: float = 0.0

    @classmethod
    def of_tier(cls, tier: str) -> ApiCounter:
        if tier not in TIERS:
            raise ValueError(f"Kraken tiers are {', '.join(TIERS)}, not {tier!r}")
        return cls(*TIERS[tier])

    def level(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return max(0.0, self._level - (now - self._at) * self.decay_per_s)

    async def acquire(self, method: str) -> None:
        cost = _COSTS.get(method, 1)
        if not cost:
            return
        while True:
            now = time.monotonic()
            level = self.level(now)
            if level + cost <= self.maximum:
                self._level, self._at = level + cost, now
                return
            await asyncio.sleep((level + cost - self.maximum) / self.decay_per_s + 0.01)

    def saturate(self) -> float:
        """Kraken says the counter is full: ours is too. Seconds until one call fits."""
        self._level, self._at = self.maximum, time.monotonic()
        return 1 / self.decay_per_s

    def headroom(self) -> float:
        return max(0.0, 1 - self.level() / self.maximum)


class Nonces:
    """Strictly increasing microsecond nonces."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(self._last + 1, time.time_ns() // 1000)
        return self._last


def decode(content: bytes | str) -> Any:
    """Kraken JSON with every number a ``Decimal`` (times included: never through float)."""
    return json.loads(content, parse_float=Decimal)


class KrakenRest(VenueRest):
    exchange = EXCHANGE

    def __init__(
        self,
        base_url: str,
        counter: ApiCounter,
        breaker: CircuitBreaker,
        health: StreamHealth,
        retry_policy: RetryPolicy,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, breaker, health, retry_policy, timeout_s, client)
        self.counter = counter

    async def _acquire(self, path: str) -> None:
        if path.startswith(PRIVATE):
            await self.counter.acquire(method_of(path))

    async def _acquire_for(self, method: str, path: str, params: Params) -> None:
        await self._acquire(path)

    def _observe(self, headers: httpx.Headers) -> None:
        return None

    def _decode(self, path: str, content: bytes) -> Any:
        try:
            body = decode(content)
        except ValueError:
            raise TransientExchangeError(EXCHANGE, f"{path}: not JSON") from None
        if not isinstance(body, dict):
            raise TransientExchangeError(EXCHANGE, f"{path}: not a Kraken answer")
        errors = [str(e) for e in body.get("error") or []]
        if errors:
            raise self.refusal(path, errors)
        return body.get("result")

    def refusal(self, path: str, errors: list[str]) -> ExchangeError:
        first = errors[0]
        text = f"{path}: {'; '.join(errors)}"
        if first == API_RATE_LIMIT:
            return RateLimited(EXCHANGE, text, self.counter.saturate())
        if first == DEADLINE_ELAPSED:
            return KrakenDeadline(EXCHANGE, text)
        if first in _TRANSIENT or first.startswith("EGeneral:Temporary lockout"):
            return TransientExchangeError(EXCHANGE, text)
        return KrakenApiError(path, errors)

    def _error(self, path: str, response: httpx.Response) -> ExchangeError:
        status = response.status_code
        errors: list[str] = []
        try:
            body = decode(response.content)
            if isinstance(body, dict):
                errors = [str(e) for e in body.get("error") or []]
        except ValueError:
            pass
        text = f"{response.request.method} {path}: HTTP {status} {'; '.join(errors)}".strip()
        if status == 429:
            after = retry_after_seconds(response.headers.get("Retry-After"))
            return RateLimited(EXCHANGE, text, after or self.counter.saturate())
        if status >= 500 or status == 408:
            return TransientExchangeError(EXCHANGE, text)
        if errors:
            return self.refusal(path, errors)
        return BadRequest(EXCHANGE, text)
