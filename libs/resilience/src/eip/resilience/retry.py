"""Jittered exponential backoff ("full jitter"): the delay before attempt n+1 is uniform in
[0, min(cap, base * 2**n)], which spreads retries of many clients instead of synchronising them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # total tries, the first included
    base_delay_s: float = 0.1
    max_delay_s: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError(f"invalid retry policy {self}")

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The sleep before each retry (attempts - 1 values)."""
        draw = (rng or random).uniform
        for n in range(self.attempts - 1):
            yield draw(0, min(self.max_delay_s, self.base_delay_s * 2**n))


async def retry_async(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    give_up_on: tuple[type[BaseException], ...] = (),
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Call fn until it succeeds or the policy is exhausted; the last error propagates.

    Errors in ``give_up_on`` propagate at once, even when they also match ``retry_on``.
    """
    delays = policy.delays()
    attempt = 1
    while True:
        try:
            return await fn()
        except retry_on as exc:
            if isinstance(exc, give_up_on):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            attempt += 1
            await asyncio.sleep(delay)
