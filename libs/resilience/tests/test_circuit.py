from __future__ import annotations

import pytest

from eip.resilience import CircuitBreaker, CircuitOpenError, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> CircuitState:
    """Read through a call, so mypy does not narrow the property between asserts."""
    return breaker.state


async def ok() -> str:
    return "ok"


async def boom() -> str:
    raise ConnectionError("down")


async def test_opens_after_consecutive_failures_then_probes_after_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker("x", failure_threshold=3, cooldown_s=10, clock=clock)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await breaker.call(boom)
    assert state(breaker) is CircuitState.CLOSED
    with pytest.raises(ConnectionError):
        await breaker.call(boom)
    assert state(breaker) is CircuitState.OPEN
    with pytest.raises(CircuitOpenError) as refused:
        await breaker.call(ok)
    assert refused.value.retry_after_s == pytest.approx(10)
    clock.now += 10
    assert state(breaker) is CircuitState.HALF_OPEN
    assert await breaker.call(ok) == "ok"
    assert state(breaker) is CircuitState.CLOSED
    assert breaker.consecutive_failures == 0


async def test_a_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker("x", failure_threshold=1, cooldown_s=5, clock=clock)
    with pytest.raises(ConnectionError):
        await breaker.call(boom)
    clock.now += 5
    with pytest.raises(ConnectionError):
        await breaker.call(boom)  # the probe
    assert state(breaker) is CircuitState.OPEN
    clock.now += 4.9
    assert breaker.is_open
    clock.now += 0.1
    assert state(breaker) is CircuitState.HALF_OPEN


def test_only_one_probe_at_a_time_in_half_open() -> None:
    clock = Clock()
    breaker = CircuitBreaker("x", failure_threshold=1, cooldown_s=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    breaker.before_call()  # the probe goes through
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # a second caller waits for the probe's outcome
    breaker.record_success()
    breaker.before_call()
    assert state(breaker) is CircuitState.CLOSED


async def test_errors_that_are_not_failures_do_not_trip_it() -> None:
    breaker = CircuitBreaker("x", failure_threshold=1, cooldown_s=60)

    async def bad_request() -> str:
        raise ValueError("caller's mistake")

    with pytest.raises(ValueError, match="caller"):
        await breaker.call(bad_request, counts_as_failure=lambda e: not isinstance(e, ValueError))
    assert state(breaker) is CircuitState.CLOSED
    breaker.record_failure()
    assert breaker.is_open


def test_success_resets_the_count() -> None:
    breaker = CircuitBreaker("x", failure_threshold=2, cooldown_s=60)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert state(breaker) is CircuitState.CLOSED


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("x", failure_threshold=0)
