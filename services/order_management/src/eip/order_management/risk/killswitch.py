"""The kill switch at three levels — the platform, an exchange, an account — each ACTIVE,
REDUCING (only orders that reduce a position, and cancels) or HALTED (cancels only). An order is
held to the most restrictive of the three that apply to it. The anomaly guard halts an account
through the same switch (reason ``anomaly: …``) until an admin sets it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class KillState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {KillState.ACTIVE: 0, KillState.REDUCING: 1, KillState.HALTED: 2}


class Level(StrEnum):
    PLATFORM = "platform"
    EXCHANGE = "exchange"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class Switch:
    level: Level
    scope_id: str  # "" for the platform
    state: KillState
    reason: str = ""
    updated_by: str = ""
    updated_at: datetime | None = None

    def public(self) -> dict[str, str | None]:
        return {
            "level": self.level.value,
            "scope_id": self.scope_id,
            "state": self.state.value,
            "reason": self.reason,
            "updated_by": self.updated_by,
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
        }


def governing(
    switches: Mapping[tuple[Level, str], Switch], exchange: str, account_id: str
) -> Switch | None:
    """The most restrictive switch that applies to an account at an exchange (the broadest
    level first among equals); None when all that apply are ACTIVE."""
    found: Switch | None = None
    for key in ((Level.PLATFORM, ""), (Level.EXCHANGE, exchange), (Level.ACCOUNT, account_id)):
        switch = switches.get(key)
        if switch is None or switch.state is KillState.ACTIVE:
            continue
        if found is None or switch.state.rank > found.state.rank:
            found = switch
    return found
