import random

import pytest

from eip.resilience import RetryPolicy, retry_async


def test_delays_are_bounded_and_jittered() -> None:
    policy = RetryPolicy(attempts=6, base_delay_s=0.5, max_delay_s=3)
    delays = list(policy.delays(random.Random(1)))
    assert len(delays) == 5
    caps = [0.5, 1, 2, 3, 3]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert len(set(delays)) == 5


async def test_retries_until_success() -> None:
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("try again")
        return "ok"

    retried: list[int] = []
    result = await retry_async(
        flaky,
        RetryPolicy(attempts=5, base_delay_s=0),
        retry_on=(ConnectionError,),
        on_retry=lambda n, e, d: retried.append(n),
    )
    assert result == "ok"
    assert retried == [1, 2]


async def test_gives_up_after_attempts_and_on_fatal_errors() -> None:
    calls = []

    async def always() -> None:
        calls.append(1)
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await retry_async(always, RetryPolicy(attempts=3, base_delay_s=0))
    assert len(calls) == 3

    class Fatal(ConnectionError):
        pass

    async def fatal() -> None:
        calls.append(1)
        raise Fatal("never retry")

    calls.clear()
    with pytest.raises(Fatal):
        await retry_async(fatal, RetryPolicy(attempts=3, base_delay_s=0), give_up_on=(Fatal,))
    assert len(calls) == 1


def test_invalid_policy_rejected() -> None:
    with pytest.raises(ValueError, match="invalid retry policy"):
        RetryPolicy(attempts=0)
