"""The hot paths' cache: a value is trusted for its TTL, an eviction ends that at once, and a
read racing an eviction never brings the old value back."""

from __future__ import annotations

import asyncio

import pytest

from eip.auth.caches import RefreshingCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Row:
    """A row a test changes, read through ``load`` (counted); ``gate`` holds a read open."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0
        self.gate: asyncio.Event | None = None

    async def load(self) -> str:
        self.reads += 1
        value = self.value  # what the database answered ...
        if self.gate is not None:
            await self.gate.wait()  # ... arrives later
        return value


async def test_a_value_is_read_once_per_ttl() -> None:
    clock, row = Clock(), Row("active")
    cache: RefreshingCache[str, str] = RefreshingCache(5.0, clock)
    assert await cache.get("c", row.load) == "active"
    row.value = "revoked"
    clock.now = 4.9
    assert await cache.get("c", row.load) == "active"
    clock.now = 5.0
    assert await cache.get("c", row.load) == "revoked"
    assert row.reads == 2


async def test_an_eviction_ends_the_trust_at_once() -> None:
    row = Row("active")
    cache: RefreshingCache[str, str] = RefreshingCache(300.0)
    assert await cache.get("c", row.load) == "active"
    row.value = "revoked"
    cache.evict("c")
    assert await cache.get("c", row.load) == "revoked"


async def test_requests_that_miss_together_share_one_read() -> None:
    row = Row("active")
    row.gate = asyncio.Event()
    cache: RefreshingCache[str, str] = RefreshingCache(5.0)
    waiting = [asyncio.create_task(cache.get("c", row.load)) for _ in range(10)]
    await asyncio.sleep(0)
    row.gate.set()
    assert await asyncio.gather(*waiting) == ["active"] * 10
    assert row.reads == 1


async def test_a_read_racing_an_eviction_neither_stays_nor_serves_later_requests() -> None:
    row = Row("active")
    row.gate = asyncio.Event()
    cache: RefreshingCache[str, str] = RefreshingCache(300.0)
    early = asyncio.create_task(cache.get("c", row.load))  # read "active", answer delayed
    await asyncio.sleep(0)
    row.value = "revoked"
    cache.evict("c")  # the change committed and was evicted while the read was in flight
    later = asyncio.create_task(cache.get("c", row.load))  # a request after the change
    await asyncio.sleep(0)
    row.gate.set()
    assert await early == "active"  # concurrent with the change: either answer is true
    assert await later == "revoked"
    assert await cache.get("c", row.load) == "revoked"  # the old value was not stored
    assert cache.fresh("c") == "revoked"


async def test_a_failed_read_is_not_cached_and_its_waiters_see_the_failure() -> None:
    cache: RefreshingCache[str, str] = RefreshingCache(5.0)
    gate = asyncio.Event()

    async def failing() -> str:
        await gate.wait()
        raise ConnectionError("database away")

    first = asyncio.create_task(cache.get("c", failing))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.get("c", failing))
    await asyncio.sleep(0)
    gate.set()
    for task in (first, second):
        with pytest.raises(ConnectionError):
            await task
    assert cache.fresh("c") is None
    assert await cache.get("c", Row("active").load) == "active"


async def test_when_the_reader_is_cancelled_a_waiter_reads_for_itself() -> None:
    row = Row("active")
    row.gate = asyncio.Event()
    cache: RefreshingCache[str, str] = RefreshingCache(5.0)
    reader = asyncio.create_task(cache.get("c", row.load))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(cache.get("c", row.load))
    await asyncio.sleep(0)
    reader.cancel()
    await asyncio.sleep(0)
    row.gate.set()
    assert await waiter == "active"
    assert reader.cancelled()
    assert row.reads == 2


async def test_a_ttl_of_zero_reads_every_time() -> None:
    row = Row("active")
    cache: RefreshingCache[str, str] = RefreshingCache(0.0)
    for _ in range(3):
        assert await cache.get("c", row.load) == "active"
    assert row.reads == 3
