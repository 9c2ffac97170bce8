"""How order management reaches venues in production: through the auth service, which holds
every exchange secret and signs every venue request (``AuthRequestSigner``), so this service
never sees one.

For an (account, exchange) the account's active credential at that exchange is looked up in
auth (``GET /v1/credentials?account_id=``), and the exchange's trading adapter is built over a
signer for it (``create_trading_adapter``; the venue comes from the order, never from this code).
Each account gets its own token (``credentials:use`` for that account only), so a token shown to
one account's signer opens no other. The service's own token (``books:read``) reads the
order-book service's slippage estimates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eip.credentials_client import (
    AuthRequestSigner,
    ClientCredentials,
    CredentialsClient,
    CredentialsUnavailable,
)
from eip.exchanges.contract.errors import CredentialRejected, TransientExchangeError
from eip.exchanges.contract.signing import SignedRequest, SigningRequest
from eip.exchanges.contract.trading import TradingAdapter
from eip.exchanges.registry import create_trading_adapter
from eip.observability.redaction import register_secret
from eip.order_management.market import TokenSource
from eip.order_management.settings import OrderManagementSettings
from eip.order_management.venues import AdapterFactory, no_adapters


@dataclass
class VenueAccess:
    factory: AdapterFactory
    token: TokenSource | None
    _closers: list[ClientCredentials | CredentialsClient] = field(default_factory=list)

    async def aclose(self) -> None:
        for closer in self._closers:
            await closer.aclose()


class _AuthAdapters:
    def __init__(self, settings: OrderManagementSettings, secret: str) -> None:
        self.settings = settings
        self._secret = secret
        self._clients: dict[str, CredentialsClient] = {}
        self.closers: list[ClientCredentials | CredentialsClient] = []

    def _client(self, account_id: str) -> CredentialsClient:
        client = self._clients.get(account_id)
        if client is None:
            s = self.settings
            tokens = ClientCredentials(
                s.auth_url,
                s.auth_client_id,
                self._secret,
                scope="credentials:use",
                accounts=[account_id],
            )
            client = self._clients[account_id] = CredentialsClient(s.auth_url, tokens.token)
            self.closers += [tokens, client]
        return client

    async def __call__(self, account_id: str, exchange: str) -> TradingAdapter:
        s = self.settings
        signer = _AccountSigner(self._client(account_id), account_id, exchange)
        return create_trading_adapter(  # UnknownExchange for a venue without an adapter
            exchange,
            signer,
            base_url=s.exchange_urls.get(exchange),
            timeout_s=s.venue_timeout_s,
            stale_after_s=s.stream_stale_after_s,
        )


class _AccountSigner:
    """Signs for the account's active credential at the exchange, looked up in auth at the
    first signature (and again after a refusal: a rotated or replaced key). An account without
    one gets ``CredentialRejected`` then, so the venue's public side (its instrument rules)
    is reachable without a key."""

    def __init__(self, client: CredentialsClient, account_id: str, exchange: str) -> None:
        self.exchange = exchange
        self._client = client
        self._account_id = account_id
        self._signer: AuthRequestSigner | None = None

    async def _current(self) -> AuthRequestSigner:
        if self._signer is None:
            try:
                rows = await self._client.list_for(self._account_id)
            except CredentialsUnavailable as exc:
                raise TransientExchangeError(self.exchange, f"auth unavailable: {exc}") from None
            active = [
                r
                for r in rows
                if r.get("exchange") == self.exchange and r.get("status") == "active"
            ]
            if not active:
                raise CredentialRejected(
                    self.exchange, f"account {self._account_id} has no active credential here"
                )
            newest = sorted(active, key=lambda r: str(r.get("created_at")))[-1]
            self._signer = AuthRequestSigner(
                self._client, str(newest["id"]), self.exchange, purpose="order-management"
            )
        return self._signer

    async def sign(self, request: SigningRequest) -> SignedRequest:
        signer = await self._current()
        try:
            return await signer.sign(request)
        except CredentialRejected:
            self._signer = None  # looked up again next time
            raise

    async def aclose(self) -> None:
        """The client is shared and closed by the service."""


def auth_adapters(settings: OrderManagementSettings) -> VenueAccess:
    secret = settings.auth_client_secret.get_secret_value()
    if not secret:
        return VenueAccess(no_adapters, None)
    register_secret(secret)
    adapters = _AuthAdapters(settings, secret)
    tokens = ClientCredentials(
        settings.auth_url, settings.auth_client_id, secret, scope="books:read"
    )
    access = VenueAccess(adapters, tokens.token)
    access._closers = adapters.closers
    access._closers.append(tokens)
    return access
