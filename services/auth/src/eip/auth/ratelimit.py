"""Lock out a source after repeated failed authentications.

In memory, per instance: with N instances an attacker gets at most N times the budget, which
is still a hard cap; a shared store (PostgreSQL) would make the limit exact at the price of a
write per failure. A source is whatever the caller keys on (client IP + client id for token
issue, client IP for introspection).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class FailureLimiter:
    def __init__(
        self,
        limit: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_sources: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._max_sources = max_sources

    def _recent(self, source: str) -> deque[float]:
        now = self._clock()
        failures = self._failures.get(source)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[source]
        return failures

    def retry_after(self, source: str) -> int | None:
        """Seconds until ``source`` may try again, or None when it is not locked out."""
        failures = self._recent(source)
        if len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window_s - self._clock()))

    def fail(self, source: str) -> bool:
        """Count a failure; True when this failure is the one that locks the source out."""
        if len(self._failures) >= self._max_sources and source not in self._failures:
            # Bound the memory an attacker with many addresses can make us hold.
            self._failures.pop(next(iter(self._failures)))
        failures = self._failures.setdefault(source, deque())
        failures.append(self._clock())
        return len(self._recent(source)) == self.limit

    def succeed(self, source: str) -> None:
        self._failures.pop(source, None)
