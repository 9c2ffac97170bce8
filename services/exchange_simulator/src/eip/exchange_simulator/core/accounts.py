"""Accounts, balances and API keys.

Balances are Decimal and split into free and locked; every movement goes through one of the
methods here so that free + locked always equals the total and, across all accounts (fees go
to the exchange's own fee account), no asset is created or destroyed by trading.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


class Permission(StrEnum):
    READ = "read"
    TRADE = "trade"
    WITHDRAW = "withdraw"


# The three key profiles the simulator offers, from least to most privileged.
KEY_PROFILES: dict[str, frozenset[Permission]] = {
    "read-only": frozenset({Permission.READ}),
    "trading": frozenset({Permission.READ, Permission.TRADE}),
    "trading+withdrawal": frozenset({Permission.READ, Permission.TRADE, Permission.WITHDRAW}),
}


class InsufficientBalance(Exception):
    pass


@dataclass
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass
class ApiKey:
    key: str
    secret: str
    account_id: str
    permissions: frozenset[Permission]
    ip_allowlist: tuple[str, ...] = ()  # addresses or CIDR networks; empty = any address
    created_ms: int = 0  # exchange time of creation, as apiRestrictions reports it
    venue: str = "binance"  # the dialect whose format the key has, and the only one taking it

    def allows_ip(self, address: str) -> bool:
        if not self.ip_allowlist:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(net, strict=False) for net in self.ip_allowlist)


@dataclass
class Account:
    account_id: str
    balances: dict[str, Balance] = field(default_factory=dict)
    maker_fee: Decimal | None = None  # None: the instrument's fee
    taker_fee: Decimal | None = None
    updated_ms: int = 0

    def balance(self, asset: str) -> Balance:
        bal = self.balances.get(asset)
        if bal is None:
            bal = self.balances[asset] = Balance()
        return bal

    def deposit(self, asset: str, amount: Decimal) -> None:
        if amount < 0:
            raise ValueError("deposit amount must not be negative")
        self.balance(asset).free += amount

    def lock(self, asset: str, amount: Decimal) -> None:
        bal = self.balance(asset)
        if amount > bal.free:
            raise InsufficientBalance(f"{asset}: need {amount}, free {bal.free}")
        bal.free -= amount
        bal.locked += amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        bal = self.balance(asset)
        if amount > bal.locked:
            raise AssertionError(f"{asset}: unlocking {amount} but only {bal.locked} locked")
        bal.locked -= amount
        bal.free += amount

    def spend_locked(self, asset: str, amount: Decimal) -> None:
        bal = self.balance(asset)
        if amount > bal.locked:
            raise AssertionError(f"{asset}: spending {amount} locked but only {bal.locked}")
        bal.locked -= amount

    def spend_free(self, asset: str, amount: Decimal) -> None:
        bal = self.balance(asset)
        if amount > bal.free:
            raise InsufficientBalance(f"{asset}: need {amount}, free {bal.free}")
        bal.free -= amount

    def credit(self, asset: str, amount: Decimal) -> None:
        self.balance(asset).free += amount
