"""The one place order management gets a venue: a ``TradingAdapter`` per (account, exchange),
the exchange's instrument rules and capabilities, and the account's free balances.

Services never name a venue: the exchange id comes from the order, and the venue code behind it
lives in ``eip.exchanges`` (the factory given here builds adapters signing through the auth
service; ``venue_access.py``). Adapters are built once per (account, exchange) and kept; a
credential the venue or auth refuses (``CredentialRejected``) drops the adapter so the next call
builds a new one (a rotated key).

Balances come from one small interface, ``BalanceSource``: the account service's
``account.balances.v1`` (``balances.TopicBalances``, the default), or the adapter's REST
balances kept fresh by the private stream's pushes (``AdapterBalances``;
``ORDER_MANAGEMENT_BALANCE_SOURCE=adapter``, for a deployment without the account service).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from eip.exchanges.contract.errors import CredentialRejected, UnknownExchange
from eip.exchanges.contract.trading import (
    AssetBalance,
    BalanceUpdate,
    InstrumentRules,
    TradingAdapter,
    TradingCapabilities,
)

log = logging.getLogger(__name__)

AdapterFactory = Callable[[str, str], Awaitable[TradingAdapter]]
"""(account id, exchange) -> the account's adapter at that exchange."""


async def no_adapters(account_id: str, exchange: str) -> TradingAdapter:
    raise UnknownExchange(f"no trading adapter configured for {exchange!r}")


class Venues:
    def __init__(self, factory: AdapterFactory, *, rules_ttl_s: float = 300.0) -> None:
        self._factory = factory
        self._adapters: dict[tuple[str, str], TradingAdapter] = {}
        self._building: dict[tuple[str, str], asyncio.Lock] = {}
        self._rules: dict[str, tuple[float, dict[str, InstrumentRules]]] = {}
        self._rules_lock: dict[str, asyncio.Lock] = {}
        self._capabilities: dict[str, TradingCapabilities] = {}
        self.rules_ttl_s = rules_ttl_s

    async def adapter(self, account_id: str, exchange: str) -> TradingAdapter:
        key = (account_id, exchange)
        adapter = self._adapters.get(key)
        if adapter is not None:
            return adapter
        lock = self._building.setdefault(key, asyncio.Lock())
        async with lock:
            adapter = self._adapters.get(key)
            if adapter is None:
                adapter = await self._factory(account_id, exchange)
                self._adapters[key] = adapter
                self._capabilities.setdefault(exchange, adapter.capabilities)
            return adapter

    def cached(self, account_id: str, exchange: str) -> TradingAdapter | None:
        return self._adapters.get((account_id, exchange))

    async def drop(self, account_id: str, exchange: str) -> None:
        adapter = self._adapters.pop((account_id, exchange), None)
        if adapter is not None:
            try:
                await adapter.close()
            except Exception as exc:  # closing is best effort
                log.warning("adapter close failed", extra={"error": repr(exc)})

    async def capabilities(self, account_id: str, exchange: str) -> TradingCapabilities:
        known = self._capabilities.get(exchange)
        if known is not None:
            return known
        return (await self.adapter(account_id, exchange)).capabilities

    async def rules(
        self, account_id: str, exchange: str, *, refresh: bool = False
    ) -> dict[str, InstrumentRules]:
        """Every instrument's rules at ``exchange`` (the same for every account), cached."""
        cached = self._rules.get(exchange)
        if cached is not None and not refresh and time.monotonic() - cached[0] < self.rules_ttl_s:
            return cached[1]
        lock = self._rules_lock.setdefault(exchange, asyncio.Lock())
        async with lock:
            cached = self._rules.get(exchange)
            if (
                cached is not None
                and not refresh
                and time.monotonic() - cached[0] < self.rules_ttl_s
            ):
                return cached[1]
            rules = await (await self.adapter(account_id, exchange)).load_rules()
            self._rules[exchange] = (time.monotonic(), rules)
            return rules

    def forget_rules(self, exchange: str) -> None:
        """Read the exchange's rules again at the next order (a "market closed" refusal)."""
        self._rules.pop(exchange, None)

    def accounts(self) -> list[tuple[str, str]]:
        return list(self._adapters)

    async def close(self) -> None:
        for key in list(self._adapters):
            await self.drop(*key)


@dataclass(frozen=True, slots=True)
class Holding:
    """One asset of an account at a venue, and when the venue said so (monotonic seconds)."""

    free: Decimal
    total: Decimal
    as_of: float


class BalanceUnknown(Exception):
    """The balance cannot be known now; the message says why (absent, stale), for the denial."""


class BalanceSource(Protocol):
    async def holding(self, account_id: str, exchange: str, asset: str) -> Holding | None:
        """What the account holds of ``asset``, or None (or ``BalanceUnknown`` with the
        reason) when it cannot be known now; ``CredentialRejected`` when the account has no
        usable key there."""
        ...


class AdapterBalances:
    """Balances read from the venue over REST (at most every ``ttl_s`` per account and
    exchange), updated between reads by the private stream's pushes (``apply``)."""

    def __init__(self, venues: Venues, ttl_s: float = 5.0) -> None:
        self.venues = venues
        self.ttl_s = ttl_s
        # (account, exchange) -> (read at, asset -> (balance, as of))
        self._balances: dict[
            tuple[str, str], tuple[float, dict[str, tuple[AssetBalance, float]]]
        ] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def _snapshot(
        self, account_id: str, exchange: str
    ) -> tuple[float, dict[str, tuple[AssetBalance, float]]] | None:
        key = (account_id, exchange)
        cached = self._balances.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._balances.get(key)
            if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
                return cached
            asked = time.monotonic()
            try:
                adapter = await self.venues.adapter(account_id, exchange)
                balances = await adapter.fetch_balances()
            except CredentialRejected:
                raise
            except Exception as exc:
                log.warning(
                    "balances unavailable",
                    extra={"account_id": account_id, "exchange": exchange, "error": repr(exc)},
                )
                return cached
            spot = {b.asset: (b, asked) for b in balances if b.wallet == "spot"}
            self._balances[key] = (asked, spot)
            return self._balances[key]

    async def holding(self, account_id: str, exchange: str, asset: str) -> Holding | None:
        snapshot = await self._snapshot(account_id, exchange)
        if snapshot is None:
            return None
        taken, assets = snapshot
        found = assets.get(asset)
        if found is None:
            return Holding(Decimal(0), Decimal(0), taken)
        balance, as_of = found
        return Holding(balance.free, balance.total, as_of)

    def apply(self, account_id: str, update: BalanceUpdate) -> None:
        key = (account_id, update.exchange)
        now = time.monotonic()
        pushed = {b.asset: (b, now) for b in update.balances if b.wallet == "spot"}
        cached = self._balances.get(key)
        if update.snapshot:
            self._balances[key] = (now, pushed)
        elif cached is not None:
            self._balances[key] = (cached[0], {**cached[1], **pushed})

    def invalidate(self, account_id: str, exchange: str) -> None:
        self._balances.pop((account_id, exchange), None)
