"""Exchange-specific key validation behind one small protocol.

Adding an exchange is one module here with a class that implements ``KeyValidator`` and one
line in ``build_validators``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ExchangeSecret:
    """Secret material of one key. ``repr`` hides it so it never lands in a log or trace."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class KeyPermissions:
    """What the exchange says the key may do, in the platform's words."""

    permissions: frozenset[str]  # "read", "trade", "withdraw", "transfer", "margin", ...
    ip_restricted: bool

    @property
    def can_withdraw(self) -> bool:
        return "withdraw" in self.permissions or "transfer" in self.permissions


class KeyRejected(Exception):
    """The exchange refused the key (unknown, wrong secret, IP not allowed...)."""


class ExchangeUnavailable(Exception):
    """The exchange did not answer usefully; says nothing about the key."""


class KeyValidator(Protocol):
    exchange: str
    needs_passphrase: bool
    supports_ip_allowlist: bool

    async def validate(self, secret: ExchangeSecret) -> KeyPermissions:
        """Prove the key works and read its permissions; raise KeyRejected or
        ExchangeUnavailable. Never put the secret into an exception."""
        ...

    def sign(self, secret: ExchangeSecret, payload: str) -> str:
        """The request signature the exchange expects for ``payload``."""
        ...

    async def aclose(self) -> None: ...
