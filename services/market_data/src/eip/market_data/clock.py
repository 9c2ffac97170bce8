"""How far a venue's clock is from ours, estimated from the times its events carry.

Every event has the venue's time (``exchange_time``) and ours when we received it
(``received_time``). Their difference is the venue's clock offset minus the network delay:
``exchange_time - received_time = offset - delay``, and a delay is never negative, so the
*largest* differences come closest to the offset. The estimate is a high percentile (95th) of
the differences seen over the last minute of received time, not the maximum, so a few events
with a nonsense future stamp do not move it. Events that waited (a stalled stream delivered
late, trades fetched over REST after a gap) only have smaller differences and leave it alone;
the live side feeds only stream events anyway.

After a step in the venue's clock the estimate follows within the window (a minute). The live
side exports it (``eip_md_venue_clock_offset_seconds``) and raises an alarm above a threshold
(``eip_md_venue_clock_offset_alarm``, a warning once per episode); the candle stage uses its
own estimate (from the trades it consumes) to close candles of a venue that went quiet.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from datetime import datetime

from eip.market_data.metrics import CLOCK_OFFSET, CLOCK_OFFSET_ALARM, CLOCK_OFFSET_ALARMS

log = logging.getLogger(__name__)

WINDOW_S = 60.0
PERCENTILE = 0.95
MIN_SAMPLES = 5
MAX_SAMPLES = 5_000


class ClockOffsetEstimator:
    """One venue's clock offset (seconds; positive: the venue is ahead of us)."""

    def __init__(
        self,
        window_s: float = WINDOW_S,
        percentile: float = PERCENTILE,
        min_samples: int = MIN_SAMPLES,
        max_samples: int = MAX_SAMPLES,
    ) -> None:
        self.window_s = window_s
        self.percentile = percentile
        self.min_samples = min_samples
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples)
        self._estimate: float | None = None
        self._dirty = False

    def add(self, exchange_time: datetime, received_time: datetime) -> None:
        received = received_time.timestamp()
        self._samples.append((received, exchange_time.timestamp() - received))
        self._dirty = True

    def estimate(self) -> float | None:
        """The offset over the window; None with fewer than ``min_samples`` samples in it."""
        if not self._samples:
            return None
        horizon = self._samples[-1][0] - self.window_s
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()
            self._dirty = True
        if self._dirty:
            self._dirty = False
            if len(self._samples) < self.min_samples:
                self._estimate = None
            else:
                ordered = sorted(d for _, d in self._samples)
                rank = min(len(ordered) - 1, math.ceil(self.percentile * len(ordered)) - 1)
                self._estimate = round(ordered[max(0, rank)], 3)  # ms: floats' noise off
        return self._estimate


class VenueClocks:
    """The live side's estimate per venue, exported, with an alarm above ``alarm_s``."""

    def __init__(self, alarm_s: float) -> None:
        self.alarm_s = alarm_s
        self._estimators: dict[str, ClockOffsetEstimator] = {}
        self._alarmed: set[str] = set()

    def observe(self, exchange: str, exchange_time: datetime, received_time: datetime) -> None:
        estimator = self._estimators.get(exchange)
        if estimator is None:
            estimator = self._estimators[exchange] = ClockOffsetEstimator()
        estimator.add(exchange_time, received_time)

    def offset(self, exchange: str) -> float | None:
        estimator = self._estimators.get(exchange)
        return None if estimator is None else estimator.estimate()

    def check(self) -> None:
        """Export every venue's estimate and raise or clear its alarm (call periodically)."""
        for exchange in self._estimators:
            offset = self.offset(exchange)
            if offset is None:
                continue
            CLOCK_OFFSET.labels(exchange).set(offset)
            above = abs(offset) > self.alarm_s
            if above and exchange not in self._alarmed:
                self._alarmed.add(exchange)
                CLOCK_OFFSET_ALARM.labels(exchange).set(1)
                CLOCK_OFFSET_ALARMS.labels(exchange).inc()
                log.warning(
                    "venue clock offset above the alarm threshold",
                    extra={
                        "exchange": exchange,
                        "offset_s": round(offset, 3),
                        "threshold_s": self.alarm_s,
                    },
                )
            elif not above and exchange in self._alarmed:
                self._alarmed.discard(exchange)
                CLOCK_OFFSET_ALARM.labels(exchange).set(0)
                log.info(
                    "venue clock offset back within the threshold",
                    extra={"exchange": exchange, "offset_s": round(offset, 3)},
                )

    def alarmed(self, exchange: str) -> bool:
        return exchange in self._alarmed
