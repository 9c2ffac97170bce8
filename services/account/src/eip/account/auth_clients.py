"""This service's sessions at the auth service, one per platform account.

A token carries the accounts it may act on, and a client allowed every account (``*``) gets a
token for none unless it names them. Signing a venue request or reading a credential's
metadata for account A needs a token naming A, so each account gets its own token source
(``credentials:use``, renewed before expiry by ``ClientCredentials``) and its own
``CredentialsClient``; the market-data service is called with a token of ``market:read`` alone.
"""

from __future__ import annotations

from eip.credentials_client import ClientCredentials, CredentialsClient


class AuthClients:
    def __init__(self, auth_url: str, client_id: str, client_secret: str) -> None:
        self.auth_url = auth_url
        self._client_id = client_id
        self._secret = client_secret
        self._per_account: dict[str, tuple[ClientCredentials, CredentialsClient]] = {}
        self.market = ClientCredentials(auth_url, client_id, client_secret, scope="market:read")

    def for_account(self, account_id: str) -> CredentialsClient:
        hit = self._per_account.get(account_id)
        if hit is None:
            tokens = ClientCredentials(
                self.auth_url,
                self._client_id,
                self._secret,
                scope="credentials:use",
                accounts=[account_id],
            )
            hit = self._per_account[account_id] = (
                tokens,
                CredentialsClient(self.auth_url, tokens.token),
            )
        return hit[1]

    async def aclose(self) -> None:
        for tokens, client in self._per_account.values():
            await client.aclose()
            await tokens.aclose()
        self._per_account.clear()
        await self.market.aclose()
