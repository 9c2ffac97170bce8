"""Faults a test can inject, exchange-neutral; the dialects consult this state.

REST: the next N requests (optionally only those whose path starts with a prefix) are answered
with a 5xx or left hanging until the client times out. Streams: connections dropped now or
stalled for a while, every message delayed, diff sequence numbers skipped or repeated, book
checksums corrupted (for dialects that have them). The exchange's own faults (a halted symbol,
a skewed clock) live on the exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RestFault:
    mode: str  # "error" | "timeout"
    remaining: int
    status: int = 503
    path_prefix: str = ""


@dataclass
class Faults:
    rest: list[RestFault] = field(default_factory=list)
    stall_until: float = 0.0  # loop time until which streams send nothing
    delay_ms: int = 0  # added to every stream message
    # Per-symbol counters, keyed "SYMBOL" (whichever dialect sends that symbol's next diff) or
    # "venue:SYMBOL" (only that dialect's).
    skip_sequence: dict[str, int] = field(default_factory=dict)  # diffs lost in transit
    repeat_sequence: dict[str, int] = field(default_factory=dict)  # diffs sent twice
    corrupt_checksum: dict[str, int] = field(default_factory=dict)  # wrong book checksums
    drop_listeners: list[Callable[[str | None], int]] = field(default_factory=list)

    def take_rest_fault(self, path: str) -> RestFault | None:
        for fault in self.rest:
            if fault.remaining > 0 and path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.rest.remove(fault)
                return fault
        return None

    @staticmethod
    def key(symbol: str, venue: str | None = None) -> str:
        return symbol if venue is None else f"{venue}:{symbol}"

    def take(self, table: dict[str, int], symbol: str, venue: str = "binance") -> bool:
        """Use one fault for ``symbol`` on ``venue``'s dialect: one aimed at that venue first,
        else one for any venue. (The Binance dialect, the first one, passes no venue.)"""
        for key in (self.key(symbol, venue), symbol):
            left = table.get(key, 0)
            if left <= 0:
                continue
            if left == 1:
                del table[key]
            else:
                table[key] = left - 1
            return True
        return False

    def stalled(self) -> bool:
        return asyncio.get_running_loop().time() < self.stall_until

    async def before_send(self) -> None:
        """What every stream message goes through: held while stalled, then delayed."""
        loop = asyncio.get_running_loop()
        remaining = self.stall_until - loop.time()
        while remaining > 0:  # a new stall may extend the deadline meanwhile
            await asyncio.sleep(remaining)
            remaining = self.stall_until - loop.time()
        if self.delay_ms:
            await asyncio.sleep(self.delay_ms / 1000)

    def stall(self, seconds: float) -> None:
        self.stall_until = asyncio.get_running_loop().time() + seconds

    def drop(self, stream_filter: str | None = None) -> int:
        """Close stream connections now (those carrying ``stream_filter``, or all)."""
        return sum(listener(stream_filter) for listener in self.drop_listeners)

    def clear(self) -> None:
        self.rest.clear()
        self.stall_until = 0.0
        self.delay_ms = 0
        self.skip_sequence.clear()
        self.repeat_sequence.clear()
        self.corrupt_checksum.clear()
