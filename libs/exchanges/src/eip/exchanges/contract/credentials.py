"""Exchange-specific key validation and request signing behind one small protocol (used by
the auth service).

A venue validates keys and signs requests in its package's ``credentials.py``, with a class
that implements ``KeyValidator``, and names that class in its ``eip.exchanges.registry`` entry.

Signing is by *scheme*: each venue module names the schemes it signs and the fields each one
takes (``SigningScheme``), so ``POST /v1/credentials/{id}/sign`` serves every venue's way of
signing — Binance's HMAC of a query string today; Kraken's HMAC-SHA512 of the path and a
nonce-salted body hash, Coinbase's per-request ES256 JWT and the passphrase headers of OKX and
KuCoin tomorrow — without a new endpoint. The inputs are checked against the scheme before the
secret is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


@dataclass(frozen=True)
class Signature:
    """What a scheme gives back: a value the caller puts where the venue expects it, and/or
    headers the caller sends as they are."""

    signature: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class SigningInputError(ValueError):
    """The fields do not fit the scheme (unknown scheme, a field missing or not allowed). The
    message names fields, never values."""


@dataclass(frozen=True)
class SigningScheme:
    """One way a venue signs a request. ``fields`` must all be given; with ``open_fields`` any
    other field is signed too (Binance's WebSocket API signs all of a request's parameters),
    except the ``reserved`` ones the scheme fills in itself."""

    sign: Callable[[ExchangeSecret, Mapping[str, str]], Signature]
    fields: frozenset[str] = frozenset()
    open_fields: bool = False
    reserved: frozenset[str] = frozenset()
    # checks the fields' values (raising SigningInputError) before the secret is read
    check: Callable[[Mapping[str, str]], None] | None = None


class KeyValidator(Protocol):
    exchange: str
    # the venue's public API, which the validator calls unless built with another base URL
    # (the simulator, a test server): a class attribute, read before one is built
    default_base_url: str
    needs_passphrase: bool
    supports_ip_allowlist: bool
    signing_schemes: Mapping[str, SigningScheme]
    default_scheme: str  # the scheme of a request that names none (a bare ``payload``)

    async def validate(self, secret: ExchangeSecret) -> KeyPermissions:
        """Prove the key works and read its permissions; raise KeyRejected or
        ExchangeUnavailable. Never put the secret into an exception."""
        ...

    async def aclose(self) -> None: ...


def signing_scheme(
    validator: KeyValidator, name: str | None, fields: Mapping[str, str]
) -> tuple[str, SigningScheme]:
    """The scheme ``name`` (the validator's default when None) if ``fields`` fit it."""
    chosen = name or validator.default_scheme
    scheme = validator.signing_schemes.get(chosen)
    if scheme is None:
        known = ", ".join(sorted(validator.signing_schemes))
        raise SigningInputError(f"{validator.exchange} signs with {known}, not {chosen!r}")
    missing = scheme.fields - fields.keys()
    if missing:
        raise SigningInputError(f"scheme {chosen} needs {', '.join(sorted(missing))}")
    extra = fields.keys() - scheme.fields
    if extra and (not scheme.open_fields or extra & scheme.reserved):
        allowed = extra & scheme.reserved if scheme.open_fields else extra
        raise SigningInputError(f"scheme {chosen} does not take {', '.join(sorted(allowed))}")
    if scheme.check is not None:
        scheme.check(fields)
    return chosen, scheme
