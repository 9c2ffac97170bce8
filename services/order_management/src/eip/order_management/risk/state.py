"""Limits and kill switches as every instance sees them: read from PostgreSQL at start, again
whenever a change is announced (``NOTIFY <schema>_risk``, sent by the instance that made it, in
its transaction) and every ``refresh_s`` in case a notification was missed."""

from __future__ import annotations

from collections.abc import Mapping

from eip.order_management.risk.killswitch import Level, Switch, governing
from eip.order_management.risk.limits import (
    EffectiveLimits,
    Limits,
    Scope,
    effective,
    parse_layers,
    scope_keys,
)
from eip.order_management.storage.database import Database
from eip.order_management.storage.risk import RiskStore


class RiskState:
    def __init__(self, db: Database, store: RiskStore, defaults: EffectiveLimits) -> None:
        self.db = db
        self.store = store
        self.defaults = defaults
        self.layers: dict[tuple[Scope, str], Limits] = {}
        self.switches: dict[tuple[Level, str], Switch] = {}
        self.loaded = False
        # Counts this instance's own changes, applied to memory right after their commit: a
        # refresh whose read began before such a commit would otherwise put the old state back
        # (a HALTED switch lost until the next refresh while orders go through).
        self._local_changes = 0

    async def refresh(self) -> None:
        while True:
            seen = self._local_changes
            async with self.db.connection() as conn:
                layers = await self.store.limits(conn)
                switches = await self.store.switches(conn)
            if seen == self._local_changes:
                break  # else read again: the new read sees the committed change
        self.layers = parse_layers(layers)
        self.switches = switches
        self.loaded = True

    def set_layers(self, layers: Mapping[tuple[Scope, str], Limits]) -> None:
        self.layers = dict(layers)
        self._local_changes += 1

    def set_switch(self, level: Level, scope_id: str, switch: Switch) -> None:
        self.switches[(level, scope_id)] = switch
        self._local_changes += 1

    def limits_for(self, exchange: str, account_id: str, symbol: str) -> EffectiveLimits:
        keys = scope_keys(exchange, account_id, symbol)
        return effective((self.layers.get(k) for k in keys), self.defaults)

    def switch_for(self, exchange: str, account_id: str) -> Switch | None:
        return governing(self.switches, exchange, account_id)
