"""A circuit breaker: stop calling a dependency that keeps failing, probe it after a cool-down.

closed --(``failure_threshold`` consecutive failures)--> open --(``cooldown_s``)--> half-open;
in half-open one call is let through: success closes the circuit, failure opens it again for
another cool-down. One breaker per dependency (per exchange), so one outage never blocks others.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(Exception):
    """Raised instead of calling while the circuit is open."""

    def __init__(self, name: str, retry_after_s: float) -> None:
        super().__init__(f"circuit {name!r} is open; next probe in {retry_after_s:.1f}s")
        self.name = name
        self.retry_after_s = retry_after_s


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cooldown_s < 0:
            raise ValueError("failure_threshold must be >= 1 and cooldown_s >= 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self.cooldown_s:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    @property
    def is_open(self) -> bool:
        return self.state is CircuitState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_after_s(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def before_call(self) -> None:
        """Raise ``CircuitOpenError`` unless a call may go through now."""
        state = self.state
        if state is CircuitState.OPEN or (state is CircuitState.HALF_OPEN and self._probing):
            raise CircuitOpenError(self.name, self.retry_after_s())
        if state is CircuitState.HALF_OPEN:
            self._probing = True

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_no_verdict(self) -> None:
        """A call let through ended without saying anything of the dependency (cancelled,
        say): a half-open breaker's probe is given back, or no call would ever go through
        again."""
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        self._probing = False
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        counts_as_failure: Callable[[BaseException], bool] = lambda exc: True,
    ) -> T:
        """Run ``fn`` through the breaker; exceptions for which ``counts_as_failure`` is false
        (a caller's bad request, say) pass through without tripping it."""
        self.before_call()
        try:
            result = await fn()
        except BaseException as exc:
            if isinstance(exc, Exception) and counts_as_failure(exc):
                self.record_failure()
            else:
                self.record_no_verdict()
            raise
        self.record_success()
        return result
