"""``RequestSigner`` over the auth service: a native adapter signs every venue request through
``POST /v1/credentials/{id}/sign`` and never holds the secret.

The auth service checks the credential's status on every call (held in its memory, evicted by
every change), so a revocation stops signing at once on the auth instance that revoked, and
within ``AUTH_CACHE_TTL_S`` (5 s) on the others — the adapter's next request then fails with
``CredentialRejected`` before anything reaches the venue.
An answer of "no" (revoked, unknown, another account's credential, a client auth no longer
accepts, inputs the scheme cannot sign) is ``CredentialRejected``; "not now" (auth unreachable,
5xx, a lockout's 429) is a ``TransientExchangeError`` the caller may retry.

    tokens = ClientCredentials(auth_url, client_id, client_secret,
                               scope="credentials:use", accounts=[account_id])
    credentials = CredentialsClient(auth_url, tokens.token)   # one per service, shared
    signer = AuthRequestSigner(credentials, credential_id, "binance")

Venues served by ccxt sign in-process (ccxt builds and signs its own requests), so the signer is
also a ``SecretSource``: ``secret()`` hands the credential (key, secret, passphrase) out through
``POST /v1/credentials/{id}/use`` — audited as a use — from the ``CredentialsClient``'s short
cache, which ``auth.credentials.v1`` empties on revocation or rotation.
"""

from __future__ import annotations

from eip.credentials_client.client import (
    CredentialRefused,
    CredentialsClient,
    CredentialsUnavailable,
)
from eip.exchanges.contract.credentials import ExchangeSecret
from eip.exchanges.contract.errors import CredentialRejected, TransientExchangeError
from eip.exchanges.contract.signing import SignedRequest, SigningRequest


class AuthRequestSigner:
    """Signs for one credential of one exchange (``exchange`` names it in errors)."""

    def __init__(
        self,
        credentials: CredentialsClient,
        credential_id: str,
        exchange: str,
        *,
        purpose: str = "trading",
    ) -> None:
        self.credentials = credentials
        self.credential_id = credential_id
        self.exchange = exchange
        self.purpose = purpose

    async def sign(self, request: SigningRequest) -> SignedRequest:
        try:
            data = await self.credentials.sign_request(
                self.credential_id,
                request.scheme,
                request.fields,
                request.purpose or self.purpose,
            )
        except CredentialRefused as exc:
            raise CredentialRejected(self.exchange, f"signing refused: {exc}") from None
        except CredentialsUnavailable as exc:
            raise TransientExchangeError(self.exchange, f"signing unavailable: {exc}") from None
        signature = data.get("signature")
        return SignedRequest(
            api_key=str(data["api_key"]),
            signature=None if signature is None else str(signature),
            headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
            key_version=int(data["version"]) if data.get("version") is not None else None,
        )

    async def secret(self) -> ExchangeSecret:
        """The credential's secret material, for an adapter that signs in-process (ccxt); the
        adapter holds it only while a request is signed. Refusals as for ``sign``."""
        try:
            credential = await self.credentials.get(self.credential_id, self.purpose)
        except CredentialRefused as exc:
            raise CredentialRejected(self.exchange, f"secret refused: {exc}") from None
        except CredentialsUnavailable as exc:
            raise TransientExchangeError(self.exchange, f"secret unavailable: {exc}") from None
        return ExchangeSecret(credential.api_key, credential.secret, credential.passphrase)

    async def aclose(self) -> None:
        """Nothing of its own to close: the ``CredentialsClient`` is shared and the caller's."""
