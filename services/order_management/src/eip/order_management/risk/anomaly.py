"""The fraud and anomaly guard: an account whose orders depart sharply from its own history is
halted (the account's kill switch, reason ``anomaly: …``) with an alert and an audit event, until
an admin sets it back.

An account's profile (``account_profiles``): how many orders it placed, the sources its commands
came from (``http:<subject>``, ``kafka:<requested_by>``), the instruments it traded, its last 200
order notionals, and its orders per minute over the last hour. Until ``anomaly_warmup_orders``
orders the guard only learns. After that an order is an anomaly when:

- its notional is above ``anomaly_size_factor`` x the median of the account's recent ones;
- the account's orders this minute exceed ``anomaly_rate_factor`` x its mean per active minute
  of the last hour (and at least 10);
- it names an instrument the account never traded (``anomaly_new_instruments``);
- its command comes from a source the account never used (``anomaly_new_sources``).

Only orders that pass are learned, so a burst of refused orders cannot teach the guard that
bursts are normal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eip.order_management.risk.limits import EffectiveLimits

SAMPLES = 200
RATE_FLOOR = 10


@dataclass
class Profile:
    orders: int = 0
    sources: set[str] = field(default_factory=set)
    instruments: set[str] = field(default_factory=set)
    notionals: list[Decimal] = field(default_factory=list)
    minutes: dict[int, int] = field(default_factory=dict)  # unix minute -> orders

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        return cls(
            orders=int(data.get("orders", 0)),
            sources=set(data.get("sources", [])),
            instruments=set(data.get("instruments", [])),
            notionals=[Decimal(n) for n in data.get("notionals", [])],
            minutes={int(k): int(v) for k, v in data.get("minutes", {}).items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "sources": sorted(self.sources),
            "instruments": sorted(self.instruments),
            "notionals": [str(n) for n in self.notionals[-SAMPLES:]],
            "minutes": {str(k): v for k, v in self.minutes.items()},
        }


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: str  # size, rate, instrument, source
    message: str
    details: dict[str, str]


def _minute(now: float) -> int:
    return int(now // 60)


def assess(
    profile: Profile,
    limits: EffectiveLimits,
    *,
    source: str,
    instrument: str,
    notional: Decimal | None,
    now: float | None = None,
) -> Anomaly | None:
    """The departure this order makes from the account's history, if any (learns nothing)."""
    if not limits.anomaly_guard or profile.orders < limits.anomaly_warmup_orders:
        return None
    now = time.time() if now is None else now
    if limits.anomaly_new_sources and source not in profile.sources:
        return Anomaly(
            "source",
            f"commands from a source the account never used ({source})",
            {"source": source, "known_sources": str(len(profile.sources))},
        )
    if limits.anomaly_new_instruments and instrument not in profile.instruments:
        return Anomaly(
            "instrument",
            f"an instrument the account never traded ({instrument})",
            {"instrument": instrument},
        )
    if notional is not None and profile.notionals:
        ordered = sorted(profile.notionals)
        middle = len(ordered) // 2
        median = (
            ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        )
        if median > 0 and notional > limits.anomaly_size_factor * median:
            return Anomaly(
                "size",
                f"order notional {notional} is more than {limits.anomaly_size_factor} x the"
                f" account's median of {median}",
                {"notional": str(notional), "median": str(median)},
            )
    minute = _minute(now)
    recent = {m: c for m, c in profile.minutes.items() if minute - 60 <= m < minute}
    this_minute = profile.minutes.get(minute, 0) + 1
    if recent:
        mean = Decimal(sum(recent.values())) / len(recent)
        ceiling = max(Decimal(RATE_FLOOR), limits.anomaly_rate_factor * mean)
        if this_minute > ceiling:
            return Anomaly(
                "rate",
                f"{this_minute} orders this minute against a usual {mean:.1f} per minute",
                {"this_minute": str(this_minute), "usual": f"{mean:.2f}"},
            )
    return None


def learn(
    profile: Profile,
    *,
    source: str,
    instrument: str,
    notional: Decimal | None,
    now: float | None = None,
) -> None:
    now = time.time() if now is None else now
    profile.orders += 1
    profile.sources.add(source)
    profile.instruments.add(instrument)
    if notional is not None and notional > 0:
        profile.notionals.append(notional)
        del profile.notionals[:-SAMPLES]
    minute = _minute(now)
    profile.minutes[minute] = profile.minutes.get(minute, 0) + 1
    for old in [m for m in profile.minutes if m < minute - 60]:
        del profile.minutes[old]
