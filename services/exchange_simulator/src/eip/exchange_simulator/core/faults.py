"""Faults a test can inject, exchange-neutral; the dialects consult this state.

REST (``RestFault``, applied by ``rest_faults.answer_with_faults``, the one function every
dialect's endpoints go through): the next N requests whose path starts with a prefix (and,
optionally, of one HTTP method or one dialect) are answered with a 5xx (``error``), left
hanging until the client gives up (``timeout``), or executed with their answer lost
(``drop-response``: the venue has the order, the client sees a timeout).

Streams, every dialect's sockets public and private alike, each fault for all dialects or one
(``venue``): connections dropped now, every message held while stalled or delayed, diff
sequence numbers skipped or repeated, book checksums corrupted (for dialects that have them).
The exchange's own faults (a halted symbol, a skewed clock) live on the exchange; dialects
with state a test tightens (rate limits) register what restores it with ``on_clear``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

REST_MODES = ("error", "timeout", "drop-response")
DropListener = Callable[[str | None], int]


@dataclass
class RestFault:
    mode: str  # one of REST_MODES
    remaining: int
    status: int = 503
    path_prefix: str = ""
    method: str | None = None  # e.g. "POST"; None: any
    venue: str | None = None  # "binance" | "kraken" | "coinbase"; None: any dialect

    def matches(self, path: str, method: str | None, venue: str | None) -> bool:
        """A scoped fault is only taken by a request known to be in its scope."""
        return (
            path.startswith(self.path_prefix)
            and (self.method is None or (method or "").upper() == self.method)
            and (self.venue is None or self.venue == venue)
        )


@dataclass
class Faults:
    rest: list[RestFault] = field(default_factory=list)
    # Stream faults for every dialect, and per dialect (keyed by venue).
    stall_until: float = 0.0  # loop time until which streams send nothing
    delay_ms: int = 0  # added to every stream message
    venue_stall_until: dict[str, float] = field(default_factory=dict)
    venue_delay_ms: dict[str, int] = field(default_factory=dict)
    # Per-symbol counters, keyed "SYMBOL" (whichever dialect sends that symbol's next diff) or
    # "venue:SYMBOL" (only that dialect's).
    skip_sequence: dict[str, int] = field(default_factory=dict)  # diffs lost in transit
    repeat_sequence: dict[str, int] = field(default_factory=dict)  # diffs sent twice
    corrupt_checksum: dict[str, int] = field(default_factory=dict)  # wrong book checksums
    drop_listeners: dict[str, list[DropListener]] = field(default_factory=lambda: defaultdict(list))
    clear_listeners: list[Callable[[], None]] = field(default_factory=list)

    # -- REST ----------------------------------------------------------------------------------

    def take_rest_fault(
        self, path: str, method: str | None = None, venue: str | None = None
    ) -> RestFault | None:
        for fault in self.rest:
            if fault.remaining > 0 and fault.matches(path, method, venue):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.rest.remove(fault)
                return fault
        return None

    # -- sequence and checksum faults ----------------------------------------------------------

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

    # -- connections ---------------------------------------------------------------------------

    async def before_send(self, venue: str | None = None) -> None:
        """What every stream message of ``venue``'s dialect goes through: held while stalled
        (for all dialects or this one), then delayed."""
        loop = asyncio.get_running_loop()
        while True:  # a new stall may extend the deadline meanwhile
            until = max(self.stall_until, self.venue_stall_until.get(venue or "", 0.0))
            remaining = until - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(remaining)
        delay = self.delay_ms + self.venue_delay_ms.get(venue or "", 0)
        if delay:
            await asyncio.sleep(delay / 1000)

    def stall(self, seconds: float, venue: str | None = None) -> None:
        until = asyncio.get_running_loop().time() + seconds
        if venue is None:
            self.stall_until = until
        else:
            self.venue_stall_until[venue] = until

    def delay(self, ms: int, venue: str | None = None) -> None:
        if venue is None:
            self.delay_ms = ms
        else:
            self.venue_delay_ms[venue] = ms

    def on_drop(self, venue: str, listener: DropListener) -> None:
        """``listener(stream_filter)`` closes the dialect's matching connections, returns how
        many (``stream_filter`` None: all of them)."""
        self.drop_listeners[venue].append(listener)

    def drop(self, stream_filter: str | None = None, venue: str | None = None) -> int:
        """Close stream connections now: of every dialect or ``venue``'s, those carrying
        ``stream_filter`` (as each dialect understands it) or all."""
        venues = [venue] if venue is not None else list(self.drop_listeners)
        return sum(
            listener(stream_filter)
            for name in venues
            for listener in self.drop_listeners.get(name, [])
        )

    # -- clearing ------------------------------------------------------------------------------

    def on_clear(self, callback: Callable[[], None]) -> None:
        """``callback`` runs on ``clear()``: a dialect restores what a test tightened."""
        self.clear_listeners.append(callback)

    def clear(self) -> None:
        self.rest.clear()
        self.stall_until = 0.0
        self.delay_ms = 0
        self.venue_stall_until.clear()
        self.venue_delay_ms.clear()
        self.skip_sequence.clear()
        self.repeat_sequence.clear()
        self.corrupt_checksum.clear()
        for callback in self.clear_listeners:
            callback()
