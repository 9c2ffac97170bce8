"""One adapter's health, as ``status()`` reports it and Prometheus exports it.

Message times go into a one-minute window (messages per second); a stream that has been quiet
longer than ``stale_after_s`` while subscribed is stale: the adapter's watchdog flips ``stale``,
bumps ``eip_md_stream_stale_episodes_total``, sets ``eip_md_stream_stale`` and logs once per
episode.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge

from eip.exchanges.contract.market_data import ErrorNote, StreamStatus

log = logging.getLogger(__name__)

STALE = Gauge(
    "eip_md_stream_stale", "1 while the exchange's stream is quiet too long", ["exchange"]
)
STALE_EPISODES = Counter(
    "eip_md_stream_stale_episodes_total",
    "Times an exchange's stream went quiet too long",
    ["exchange"],
)
RECONNECTS = Counter(
    "eip_md_stream_reconnects_total", "Market-data WebSocket connections re-opened", ["exchange"]
)
ERRORS = Counter(
    "eip_md_adapter_errors_total",
    "Adapter errors by kind (rest, stream, parse)",
    ["exchange", "kind"],
)
MESSAGES = Counter("eip_md_stream_messages_total", "Market-data events received", ["exchange"])

WINDOW_S = 60.0


class StreamHealth:
    def __init__(
        self,
        exchange: str,
        stale_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        label: str | None = None,
    ) -> None:
        self.exchange = exchange
        # Metrics carry ``label``: a venue's private stream ("binance-private") stays apart
        # from its market data in the same process.
        self.label = label or exchange
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._times: deque[float] = deque()
        self._last: float | None = None
        self._since: float = clock()  # quiet time counts from here before the first message
        self.connected = False
        self.stale = False
        self.errors = 0
        self.detail = ""
        self.last_error: ErrorNote | None = None
        self._messages = MESSAGES.labels(self.label)

    def message(self) -> None:
        now = self._clock()
        self._last = now
        self._times.append(now)
        self._messages.inc()
        self._trim(now)
        if self.stale:
            self.stale = False
            STALE.labels(self.label).set(0)
            log.info("stream fresh again", extra={"exchange": self.label})

    def error(self, kind: str, detail: str) -> None:
        self.errors += 1
        self.detail = detail
        self.last_error = ErrorNote(kind, detail, datetime.now(UTC))
        ERRORS.labels(self.label, kind).inc()

    def set_connected(self, connected: bool, detail: str = "") -> None:
        if connected and not self.connected:
            self._since = self._clock()  # a fresh connection gets a full quiet allowance
        self.connected = connected
        if detail:
            self.detail = detail

    def reconnecting(self) -> None:
        RECONNECTS.labels(self.label).inc()

    def check_stale(self, subscribed: bool) -> bool:
        """Raise or clear the staleness alarm; returns the current state."""
        now = self._clock()
        reference = max(self._last or self._since, self._since)
        quiet = subscribed and now - reference > self.stale_after_s
        if quiet and not self.stale:
            self.stale = True
            STALE_EPISODES.labels(self.label).inc()
            STALE.labels(self.label).set(1)
            log.warning(
                "stream stale",
                extra={"exchange": self.label, "quiet_s": round(now - reference, 1)},
            )
        elif not quiet and self.stale and not subscribed:
            self.stale = False
            STALE.labels(self.label).set(0)
        return self.stale

    def quiet_for(self) -> float:
        return self._clock() - max(self._last or self._since, self._since)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > WINDOW_S:
            self._times.popleft()

    def status(self, circuit_open: bool, headroom: float | None) -> StreamStatus:
        now = self._clock()
        self._trim(now)
        return StreamStatus(
            exchange=self.exchange,
            connected=self.connected,
            last_message_age_s=None if self._last is None else now - self._last,
            messages_per_second=len(self._times) / WINDOW_S,
            errors=self.errors,
            stale=self.stale,
            circuit_open=circuit_open,
            rate_limit_headroom=headroom,
            detail=self.detail,
            last_error=self.last_error,
        )


async def watch(
    health: StreamHealth,
    subscribed: Callable[[], bool],
    reconnect: Callable[[str], Awaitable[None]],
    reconnect_when_quiet_s: float,
) -> None:
    """Until cancelled: raise or clear the staleness alarm, and have a connection that stays
    open but silent (it happens) replaced once it has been quiet ``reconnect_when_quiet_s``."""
    interval = max(0.05, min(1.0, health.stale_after_s / 4))
    while True:
        await asyncio.sleep(interval)
        wanted = subscribed()
        health.check_stale(wanted)
        quiet = health.quiet_for()
        if wanted and health.connected and quiet > reconnect_when_quiet_s:
            await reconnect(f"no message for {quiet:.1f}s")
