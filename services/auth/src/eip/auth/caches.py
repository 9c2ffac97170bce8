"""The one cache of the auth service's hot paths: a value read from PostgreSQL, trusted for a
short TTL, ended at once by ``evict``.

The signing path (credential metadata) and the token check (a client's state) read the same
rows for every request; these caches read each at most once per ``ttl_s``. What keeps them
honest is eviction: this instance evicts a key right after it commits a change to it, the other
instances when the change's event reaches them over Kafka, and the TTL bounds how long an
instance that missed the event (Kafka down, the consumer restarting) trusts what it read.

What is subtle — a load racing an eviction:

- A load that started before an eviction must not store its (possibly stale) value after it:
  every eviction bumps a counter, and a load stores its value only if no eviction happened
  while it ran. The request that started the load still gets that value: it was concurrent
  with the change, which had not answered yet.
- Requests that arrive while a load is in flight wait for it rather than read the row again
  (one read per key however many requests miss at once) — but not after an eviction: evicting
  forgets the load in flight, so a request that comes after the change answered starts a new
  read and sees the change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _Held(Generic[V]):
    value: V
    read_at: float  # monotonic


class RefreshingCache(Generic[K, V]):
    """Values by key, loaded on a miss, trusted for ``ttl_s`` (``0``: never cached)."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._held: dict[K, _Held[V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}
        self._evictions = 0

    def __len__(self) -> int:
        return len(self._held)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._held))

    def fresh(self, key: K) -> V | None:
        """The cached value while it is trusted, else None (no load)."""
        held = self._held.get(key)
        if held is None or self._clock() - held.read_at >= self.ttl_s:
            return None
        return held.value

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        held = self._held.get(key)
        if held is not None and self._clock() - held.read_at < self.ttl_s:
            return held.value
        pending = self._loading.get(key)
        if pending is not None:
            try:
                # shielded: one waiter going away (its client gone) must not end the read
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request itself was cancelled
                # the reader was cancelled: read for ourselves below
        evictions = self._evictions
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            read_at = self._clock()
            value = await load()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: nobody may be waiting
            raise
        finally:
            if self._loading.get(key) is future:
                del self._loading[key]
        if evictions == self._evictions and self.ttl_s > 0:
            self._held[key] = _Held(value, read_at)
        future.set_result(value)
        return value

    def evict(self, key: K) -> None:
        """Forget ``key`` now: the next request reads it again, and a read in flight neither
        stores its value nor serves a request that arrives from now on."""
        self._evictions += 1
        self._held.pop(key, None)
        self._loading.pop(key, None)

    def clear(self) -> None:
        self._evictions += 1
        self._held.clear()
        self._loading.clear()
