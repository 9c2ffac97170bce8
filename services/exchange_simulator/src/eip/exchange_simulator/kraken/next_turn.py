"""Coalescing a feed's work to the next event-loop turn: every book change, trade and order
event of one exchange operation (a market step, an order sweeping levels) arrives as one burst of
synchronous listener calls; the Kraken feeds note them and send once, after the burst, so one
operation becomes one message per symbol (or one per execution event, in order)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class NextTurn:
    """Runs ``flush`` once on the next loop turn however often ``request()`` is called before
    it; without a running loop (unit tests driving the core directly) it runs at once."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self._scheduled = False

    def request(self) -> None:
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush()
            return
        self._scheduled = True
        loop.call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        self._flush()
