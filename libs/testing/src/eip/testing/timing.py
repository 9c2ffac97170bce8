"""Timing for the benchmarks (`bench/`) that time one call at a time and then many in flight
(``trading_adapter.py``, ``auth_sign.py``): variants measured in interleaved rounds, so the
shared machine's noise falls on all of them alike, each keeping its latencies."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable

Call = Callable[[int], Awaitable[None]]


@dataclasses.dataclass
class Measure:
    name: str
    run: Call
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    per_second: float = 0.0  # with several calls in flight (``in_flight``)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def interleaved(measures: list[Measure], calls: int, per_round: int) -> None:
    """``calls`` sequential calls of each variant, ``per_round`` of one after the other's;
    every call gets a number of its own across the variants."""
    counter = 0
    for _ in range(max(1, calls // per_round)):
        for measure in measures:
            for _ in range(per_round):
                counter += 1
                began = time.perf_counter()
                await measure.run(counter)
                measure.latencies_ms.append((time.perf_counter() - began) * 1000)


async def in_flight(measure: Measure, count: int, flows: int, offset: int = 0) -> None:
    """``count`` calls by ``flows`` concurrent flows (numbered from ``offset``): calls/s."""
    numbers = iter(range(offset, offset + count))

    async def flow() -> None:
        for n in numbers:
            await measure.run(n)

    began = time.perf_counter()
    await asyncio.gather(*(flow() for _ in range(flows)))
    measure.per_second = count / (time.perf_counter() - began)
