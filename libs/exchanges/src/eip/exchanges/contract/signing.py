"""Signing a venue request without holding the venue secret: the adapter's side of the auth
service's ``/v1/credentials/{id}/sign``.

A native adapter builds what the venue signs (the inputs of a *scheme*, e.g. Binance's query
string) and asks a ``RequestSigner`` for the signature and the headers to attach. The secret
stays in the auth service; the adapter only ever sees the API key, a public identifier. One
endpoint serves every venue because a scheme names both the venue's signing function and the
fields it takes:

- ``binance-rest``: ``payload`` (query string + form body, exactly as sent) → hex HMAC-SHA256;
- ``binance-ws-api``: the WebSocket API request's params without ``apiKey`` and ``signature``
  (the signer adds the key, sorts by name, joins ``k=v`` with ``&``) → hex HMAC-SHA256;
- later, the same shape for Kraken (``path``, ``nonce``, ``body`` → ``API-Key``/``API-Sign``
  headers), Coinbase (``method``, ``host``, ``path`` → an ES256 JWT in ``Authorization``) and
  passphrase venues (OKX, KuCoin: the signature and passphrase headers).

Failures are ``eip.exchanges.contract.errors``: ``CredentialRejected`` when the signer refuses (the
credential is revoked, or not this caller's), ``TransientExchangeError`` when it cannot answer
now. Either way nothing reached the venue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from eip.exchanges.contract.credentials import ExchangeSecret


@dataclass(frozen=True, slots=True)
class SigningRequest:
    scheme: str
    fields: Mapping[str, str]
    purpose: str = ""  # what the signature is for, kept in the signer's audit trail


@dataclass(frozen=True, slots=True)
class SignedRequest:
    api_key: str  # the key's public identifier, for the venue's key header or parameter
    signature: str | None  # the value to attach where the scheme puts it in the request
    headers: Mapping[str, str] = field(default_factory=dict)  # headers to send as they are
    key_version: int | None = None  # which version of a rotated credential signed


class RequestSigner(Protocol):
    """Signs requests with one credential's secret, which it never hands out."""

    exchange: str

    async def sign(self, request: SigningRequest) -> SignedRequest: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class SecretSource(Protocol):
    """Hands one credential's secret to an adapter that must sign in-process (ccxt builds and
    signs its own requests): for that use only, never logged, never cached by the adapter
    beyond the call it signs. A revoked credential raises ``CredentialRejected``; the source
    (``eip.credentials_client.AuthRequestSigner``) drops its copy on revocation."""

    exchange: str

    async def secret(self) -> ExchangeSecret: ...
