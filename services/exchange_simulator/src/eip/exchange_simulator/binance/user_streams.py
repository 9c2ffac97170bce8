"""Account events (``executionReport`` per order change, ``listStatus`` per order-list change,
``outboundAccountPosition`` per balance change) fanned out to whoever listens for an account:
legacy listenKey connections and WebSocket-API ``userDataStream.subscribe`` subscriptions."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eip.exchange_simulator.binance import wire
from eip.exchange_simulator.binance.errors import BinanceError
from eip.exchange_simulator.core.engine import ListUpdate, OrderUpdate
from eip.exchange_simulator.core.exchange import BalanceChange, Exchange

Sink = Callable[[dict[str, Any]], None]
LISTEN_KEY_TTL_MS = 60 * 60 * 1000


@dataclass
class ListenKey:
    account_id: str
    expires_ms: int


class UserStreams:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.listen_keys: dict[str, ListenKey] = {}
        self._sinks: dict[str, set[Sink]] = defaultdict(set)
        exchange.listeners.order.append(self._on_order)
        exchange.listeners.order_list.append(self._on_list)
        exchange.listeners.balance.append(self._on_balance)

    # -- listenKey management ------------------------------------------------------------------

    def create_listen_key(self, account_id: str, now_ms: int) -> str:
        for key, entry in self.listen_keys.items():
            if entry.account_id == account_id and entry.expires_ms > now_ms:
                entry.expires_ms = now_ms + LISTEN_KEY_TTL_MS  # Binance hands back the live key
                return key
        key = secrets.token_hex(32)
        self.listen_keys[key] = ListenKey(account_id, now_ms + LISTEN_KEY_TTL_MS)
        return key

    def keepalive(self, key: str, account_id: str, now_ms: int) -> None:
        entry = self._own(key, account_id)
        entry.expires_ms = now_ms + LISTEN_KEY_TTL_MS

    def close(self, key: str, account_id: str) -> None:
        self._own(key, account_id)
        del self.listen_keys[key]

    def account_for(self, key: str, now_ms: int) -> str | None:
        entry = self.listen_keys.get(key)
        if entry is None or entry.expires_ms <= now_ms:
            return None
        return entry.account_id

    def _own(self, key: str, account_id: str) -> ListenKey:
        entry = self.listen_keys.get(key)
        if entry is None or entry.account_id != account_id:
            raise BinanceError(400, -1125, "This listenKey does not exist.")
        return entry

    # -- fan-out -------------------------------------------------------------------------------

    def attach(self, account_id: str, sink: Sink) -> None:
        self._sinks[account_id].add(sink)

    def detach(self, account_id: str, sink: Sink) -> None:
        self._sinks[account_id].discard(sink)

    def _send(self, account_id: str, event: Callable[[], dict[str, Any]]) -> None:
        """``event()`` (built only when someone listens) to every sink of the account."""
        sinks = self._sinks.get(account_id)
        if not sinks:
            return
        payload = event()
        for sink in list(sinks):
            sink(payload)

    def _on_order(self, account_id: str, update: OrderUpdate) -> None:
        self._send(account_id, lambda: wire.execution_report(update))

    def _on_list(self, account_id: str, update: ListUpdate) -> None:
        self._send(account_id, lambda: wire.list_status_event(update))

    def _on_balance(self, change: BalanceChange) -> None:
        self._send(
            change.account_id,
            lambda: {
                "e": "outboundAccountPosition",
                "E": change.time_ms,
                "u": change.time_ms,
                "B": [{"a": a, "f": wire.d8(f), "l": wire.d8(lk)} for a, f, lk in change.balances],
            },
        )
