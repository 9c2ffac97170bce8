"""Coinbase's identifiers for what the core numbers: orders, fills, accounts and portfolios are
UUIDs on Coinbase, integers (or names) in the core.

Each UUID is a name-based (v5) UUID under a namespace drawn once per simulator, so it looks like
any other UUID to a client, is the same every time the same thing is shown, and two simulators
never hand out the same one. Orders are the only ids a client sends back, so only they need the
way back (kept as they are shown; a client can only know an id it has been shown).
"""

from __future__ import annotations

import hashlib
import uuid


class CoinbaseIds:
    def __init__(self, namespace: uuid.UUID | None = None) -> None:
        self._namespace = namespace or uuid.uuid4()
        self._order_uuids: dict[int, str] = {}
        self._order_ids: dict[str, int] = {}

    def _name(self, kind: str, *parts: object) -> str:
        return str(uuid.uuid5(self._namespace, ":".join([kind, *map(str, parts)])))

    def order(self, order_id: int) -> str:
        known = self._order_uuids.get(order_id)
        if known is None:
            known = self._order_uuids[order_id] = self._name("order", order_id)
            self._order_ids[known] = order_id
        return known

    def order_id(self, order_uuid: str) -> int | None:
        """The core's id of an order shown as ``order_uuid``; None for any other string."""
        return self._order_ids.get(order_uuid.lower())

    def fill(self, symbol: str, trade_id: int) -> str:
        """A fill's ``trade_id`` (both sides of one trade share it, as on Coinbase)."""
        return self._name("trade", symbol, trade_id)

    def entry(self, order_id: int, trade_id: int) -> str:
        """A fill's ``entry_id``: one per side of a trade (a 64-hex digest, as Coinbase's)."""
        return hashlib.sha256(self._name("entry", order_id, trade_id).encode()).hexdigest()

    def account(self, account_id: str, currency: str) -> str:
        """The ``uuid`` of one currency's account (wallet) of a simulator account."""
        return self._name("account", account_id, currency)

    def portfolio(self, account_id: str) -> str:
        return self._name("portfolio", account_id)

    def user(self, account_id: str) -> str:
        return self._name("user", account_id)
