"""Executing an arbitrage opportunity for an account that opted in: what to send, and what an
execution may become — pure, no I/O (``storage/arbitrage.py`` runs it in transactions).

Why automation orchestrates the pair: order management's order lists (OCO, bracket) are one
venue's, and an opportunity spans two. So an execution is two ordinary commands, sent at once,
each under a key derived from the execution id (``<execution id>#buy`` / ``#sell``): IOC limit
orders at the walk's worst prices, so neither leg can fill beyond the opportunity, and order
management's risk limits, idempotency and audit apply to each.

What is subtle:

- The execution id is a function of the opportunity's lifetime id and the account only
  (``execution_id``): an opportunity evaluated again, redelivered or handed over to another
  instance maps to the same id, and the row's primary key makes it execute once.
- The legs settle independently and may fill unequal base quantities (one refused, denied or
  expired; an IOC partly filled). The documented rule (docs/AUTOMATION.md, "The unwind rule"):
  the excess on the side that filled more is closed by a market order on that same venue,
  back to flat (``unwind_of``). If that order does not fill the excess either, the execution is
  FAILED, alerted, and the account is held until an administrator releases it.
- The states move only through ``TRANSITIONS`` (state x event -> state); a pair not in the
  table is refused and changes nothing, as order management's own state machine does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Literal

State = Literal["sent", "both_filled", "missed", "unwinding", "unwound", "failed"]
Event = Literal["legs_matched", "legs_missed", "legs_unequal", "unwind_filled", "unwind_failed"]
Side = Literal["buy", "sell"]

# uuid5 namespace of execution ids (a fixed random UUID, apart from the command ids' one)
EXECUTION_NAMESPACE = uuid.UUID("5d0e6f2a-93c4-4b8e-b1d7-2a9f0c3e7b64")
REQUESTED_BY = "automation/arbitrage/"
PREFIX = "arb:"  # of every execution id; a rule's firing ids start with the rule's UUID
BPS = Decimal(10_000)

# The one table of what may happen to an execution.
TRANSITIONS: dict[tuple[State, Event], State] = {
    ("sent", "legs_matched"): "both_filled",  # equal fills (maybe less than planned): flat
    ("sent", "legs_missed"): "missed",  # neither leg filled anything: flat
    ("sent", "legs_unequal"): "unwinding",  # the excess is being closed
    ("unwinding", "unwind_filled"): "unwound",  # back to flat
    ("unwinding", "unwind_failed"): "failed",  # not flat: alert, the account held
}
FINAL_STATES: frozenset[State] = frozenset({"both_filled", "missed", "unwound", "failed"})
# order management's final order states (a lost order may still come back: not final)
FINAL_ORDER_STATES = frozenset({"filled", "canceled", "expired", "rejected", "denied"})


class TransitionRefused(Exception):
    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"{event} is not allowed in {state}")
        self.state = state
        self.event = event


def advance(state: State, event: Event) -> State:
    """The state after ``event``; ``TransitionRefused`` when the table has no such pair."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise TransitionRefused(state, event) from None


def execution_id(opportunity_id: str, account_id: str) -> str:
    """The same for every sight of the opportunity's lifetime, for one account (<= 40 chars,
    so ``<id>#unwind`` fits order management's 128-character keys)."""
    return f"{PREFIX}{uuid.uuid5(EXECUTION_NAMESPACE, f'{opportunity_id}:{account_id}')}"


def leg_key(execution: str, role: Literal["buy", "sell", "unwind"]) -> str:
    return f"{execution}#{role}"


@dataclass(frozen=True)
class AccountConfig:
    """An account's opt-in (``PUT /v1/arbitrage/accounts/{id}``)."""

    account_id: str
    enabled: bool
    exchanges: tuple[str, ...]
    symbols: tuple[str, ...]
    max_notional_per_execution: Decimal
    max_notional_per_day: Decimal
    min_net_profit_bps: Decimal
    cooldown_s: int
    lot: Decimal
    held_reason: str = ""

    def covers(self, symbol: str, buy_exchange: str, sell_exchange: str) -> bool:
        return (
            symbol in self.symbols
            and buy_exchange in self.exchanges
            and sell_exchange in self.exchanges
        )


@dataclass(frozen=True)
class Plan:
    """What to send: ``quantity`` bought at most at ``buy_price`` and sold at least at
    ``sell_price`` (both IOC limits)."""

    quantity: Decimal
    buy_price: Decimal
    sell_price: Decimal

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.buy_price


def plan(
    size: Decimal,
    buy_price: Decimal,
    sell_price: Decimal,
    net_profit_bps: Decimal,
    config: AccountConfig,
    spent_today: Decimal,
) -> Plan | str:
    """The legs for an opportunity of ``size`` whose walk ends at ``buy_price`` /
    ``sell_price``, within the account's limits; or why nothing is sent.

    The quantity is the walk's size, cut to what the per-execution and the day's remaining
    notional allow at the buy limit, down to a multiple of the account's ``lot``. The walk's
    net profit in bps is that of its whole size: a smaller quantity takes only the better
    levels, so its own is at least as high."""
    if not config.enabled:
        return "disabled"
    if config.held_reason:
        return "held"
    if net_profit_bps < config.min_net_profit_bps:
        return "below_min_net_profit_bps"
    allowed = min(config.max_notional_per_execution, config.max_notional_per_day - spent_today)
    if allowed <= 0:
        return "max_notional_per_day"
    quantity = min(size, allowed / buy_price)
    quantity = (quantity / config.lot).to_integral_value(ROUND_DOWN) * config.lot
    if quantity <= 0:
        return "below_lot"
    return Plan(quantity, buy_price, sell_price)


@dataclass(frozen=True)
class Unwind:
    """A market order closing a leg's excess on its own venue."""

    exchange: str
    side: Side
    quantity: Decimal


def unwind_of(
    buy_exchange: str, sell_exchange: str, bought: Decimal, sold: Decimal
) -> Unwind | None:
    """Back to flat after legs that filled ``bought`` and ``sold`` base: more bought than
    sold is sold back where it was bought; more sold than bought is bought back where it was
    sold. None when they are equal (nothing to close)."""
    excess = bought - sold
    if excess > 0:
        return Unwind(buy_exchange, "sell", excess)
    if excess < 0:
        return Unwind(sell_exchange, "buy", -excess)
    return None


def legs_event(bought: Decimal, sold: Decimal) -> Event:
    """What two settled legs mean for the execution."""
    if bought == sold:
        return "legs_missed" if bought == 0 else "legs_matched"
    return "legs_unequal"


def unwind_event(needed: Decimal, filled: Decimal) -> Event:
    """A settled unwind flattens only if it filled the whole excess."""
    return "unwind_filled" if filled == needed else "unwind_failed"
