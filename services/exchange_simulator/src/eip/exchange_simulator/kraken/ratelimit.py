"""Kraken's counter-based rate limits (docs.kraken.com, "Spot REST Rate Limits" and "Spot
Trading Rate Limits").

- The API counter, per key: every private call adds its cost (1; ``TradesHistory`` and the
  ledger calls 2; order entry and cancellation 0 — they have their own limiter), the counter
  decays continuously at the tier's rate, and a call that would take it past the tier's maximum
  is refused with ``EAPI:Rate limit exceeded`` (and not counted).
- The trading counter, per account and pair: each new order adds 1, each cancel or edit adds a
  penalty that is larger the younger the order was (a client cancelling what it just placed is
  what the limiter is for), decaying at the tier's rate; past the threshold new orders get
  ``EOrder:Rate limit exceeded``. Open orders per pair are capped (``EOrder:Orders limit
  exceeded``).

Tiers follow the account's verification level on Kraken; here one tier applies to everyone and
the admin API sets it (or each number) to test a client's back-off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eip.exchange_simulator.kraken import errors
from eip.exchange_simulator.kraken.errors import KrakenError

# tier -> (API counter maximum, API decay per second, trading threshold, trading decay per
# second, open orders per pair)
TIERS: dict[str, tuple[float, float, float, float, int]] = {
    "starter": (15, 0.33, 60, 1.0, 60),
    "intermediate": (20, 0.5, 125, 2.34, 80),
    "pro": (20, 1.0, 180, 3.75, 225),
}
DEFAULT_TIER = "starter"
API_COSTS = {
    "TradesHistory": 2,
    "Ledgers": 2,
    "QueryLedgers": 2,
    "AddOrder": 0,
    "AddOrderBatch": 0,
    "AmendOrder": 0,
    "EditOrder": 0,
    "CancelOrder": 0,
    "CancelOrderBatch": 0,
}
# Seconds since the order was placed -> trading-counter penalty of cancelling / editing it.
CANCEL_PENALTY = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))
EDIT_PENALTY = ((5, 6), (10, 5), (15, 4), (45, 2), (90, 1))


@dataclass
class KrakenLimits:
    tier: str = DEFAULT_TIER
    api_max: float = TIERS[DEFAULT_TIER][0]
    api_decay_per_s: float = TIERS[DEFAULT_TIER][1]
    order_max: float = TIERS[DEFAULT_TIER][2]
    order_decay_per_s: float = TIERS[DEFAULT_TIER][3]
    open_orders_max: int = TIERS[DEFAULT_TIER][4]

    @classmethod
    def of_tier(cls, tier: str) -> KrakenLimits:
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {sorted(TIERS)}")
        return cls(tier, *TIERS[tier])


@dataclass
class _Counter:
    value: float = 0.0
    at_ms: int = 0

    def level(self, now_ms: int, decay_per_s: float) -> float:
        elapsed = max(0, now_ms - self.at_ms) / 1000
        return max(0.0, self.value - elapsed * decay_per_s)


def _penalty(table: tuple[tuple[int, int], ...], age_ms: int) -> int:
    for seconds, points in table:
        if age_ms < seconds * 1000:
            return points
    return 0


@dataclass
class KrakenRateLimiter:
    limits: KrakenLimits = field(default_factory=KrakenLimits)
    _api: dict[str, _Counter] = field(default_factory=dict)  # by API key
    _orders: dict[tuple[str, str], _Counter] = field(default_factory=dict)  # (account, symbol)

    def charge_call(self, api_key: str, method: str, now_ms: int) -> float:
        """Count one private call; the counter after it, or ``EAPI:Rate limit exceeded``."""
        cost = API_COSTS.get(method, 1)
        counter = self._api.setdefault(api_key, _Counter())
        level = counter.level(now_ms, self.limits.api_decay_per_s)
        if cost and level + cost > self.limits.api_max:
            raise KrakenError(errors.RATE_LIMIT)
        counter.value, counter.at_ms = level + cost, now_ms
        return counter.value

    def charge_order(self, account_id: str, symbol: str, now_ms: int, open_orders: int) -> None:
        """Count one new order on a pair, or refuse it."""
        if open_orders >= self.limits.open_orders_max:
            raise KrakenError(errors.ORDERS_LIMIT)
        self._add(account_id, symbol, now_ms, 1, refuse=True)

    def charge_cancel(self, account_id: str, symbol: str, now_ms: int, age_ms: int) -> None:
        """A cancel is never refused for the rate; it only fills the counter."""
        self._add(account_id, symbol, now_ms, _penalty(CANCEL_PENALTY, age_ms), refuse=False)

    def charge_edit(self, account_id: str, symbol: str, now_ms: int, age_ms: int) -> None:
        self._add(account_id, symbol, now_ms, 1 + _penalty(EDIT_PENALTY, age_ms), refuse=True)

    def _add(self, account_id: str, symbol: str, now_ms: int, points: int, refuse: bool) -> None:
        counter = self._orders.setdefault((account_id, symbol), _Counter())
        level = counter.level(now_ms, self.limits.order_decay_per_s)
        if refuse and level + points > self.limits.order_max:
            raise KrakenError(errors.ORDER_RATE_LIMIT)
        counter.value, counter.at_ms = level + points, now_ms

    def reset(self, tier: str | None = None) -> None:
        """Forget every counter; back to ``tier``'s limits (the default tier when None)."""
        self._api.clear()
        self._orders.clear()
        self.limits = KrakenLimits.of_tier(tier or DEFAULT_TIER)
