"""The consumer side of the auth service: tokens, a short-lived credential cache, eviction."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from eip.bus import Consumer, ConsumerConfig, Producer, Record
from eip.events.topics import AUTH_CREDENTIALS, TopicSpec
from eip.events.v1 import auth_pb2

log = logging.getLogger(__name__)

_EVICTING = {
    auth_pb2.CREDENTIAL_ACTION_REVOKED,
    auth_pb2.CREDENTIAL_ACTION_ROTATED,
}


class CredentialsUnavailable(Exception):
    """The auth service could not hand the credential out now (outage, refusal)."""


class CredentialRefused(CredentialsUnavailable):
    """The auth service answered no (unknown credential, another account's, a client or token
    it does not accept, a request it cannot sign): asking again will not help."""


class CredentialRevoked(CredentialRefused):
    """The credential is revoked: stop using it."""


# Answers that say "not now" rather than "no": time-outs, lockouts, outages.
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Credential:
    credential_id: str
    account_id: str
    exchange: str
    version: int
    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = error.get("code", "http_error")
    message = f"auth service: HTTP {response.status_code} {code}: {error.get('message', '')}"
    if code == "credential_revoked":
        raise CredentialRevoked(message)
    if response.status_code < 500 and response.status_code not in _TRANSIENT_STATUSES:
        raise CredentialRefused(message)
    raise CredentialsUnavailable(message)


class ClientCredentials:
    """A token from the auth service (client-credentials grant), renewed before it expires."""

    def __init__(
        self,
        auth_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        accounts: list[str] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.auth_url = auth_url.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.accounts = accounts
        self._http = http or httpx.AsyncClient(timeout=10)
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                body: dict[str, Any] = {
                    "client_id": self.client_id,
                    "client_secret": self._secret,
                }
                if self.scope is not None:
                    body["scope"] = self.scope
                if self.accounts is not None:
                    body["accounts"] = self.accounts
                try:
                    response = await self._http.post(f"{self.auth_url}/v1/tokens", json=body)
                except httpx.HTTPError as exc:
                    raise CredentialsUnavailable(
                        f"auth service unreachable ({type(exc).__name__})"
                    ) from None
                _raise_for(response)
                data = response.json()
                self._token = str(data["access_token"])
                # Renew at 80% of the lifetime: never present a token about to expire.
                self._renew_at = time.monotonic() + 0.8 * float(data["expires_in"])
            return self._token

    async def aclose(self) -> None:
        await self._http.aclose()


class CredentialsClient:
    def __init__(
        self,
        auth_url: str,
        token: Callable[[], Awaitable[str]],
        *,
        ttl_s: float = 60.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.auth_url = auth_url.rstrip("/")
        self._token = token
        self.ttl_s = ttl_s
        self._http = http or httpx.AsyncClient(timeout=10)
        self._cache: dict[str, tuple[float, Credential]] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    def cached(self, credential_id: str) -> Credential | None:
        hit = self._cache.get(credential_id)
        if hit is None or time.monotonic() >= hit[0]:
            self._cache.pop(credential_id, None)
            return None
        return hit[1]

    def evict(self, credential_id: str) -> bool:
        return self._cache.pop(credential_id, None) is not None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request("POST", path, json=body)

    async def _request(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {await self._token()}"}
        try:
            response = await self._http.request(
                method, f"{self.auth_url}{path}", headers=headers, **options
            )
        except httpx.HTTPError as exc:
            raise CredentialsUnavailable(
                f"auth service unreachable ({type(exc).__name__})"
            ) from None
        _raise_for(response)
        data = response.json()
        assert isinstance(data, dict)
        return data

    async def metadata(self, credential_id: str) -> dict[str, Any]:
        """The credential's metadata as the auth service shows it (account, exchange, status,
        permissions, IP restriction, version, times): never a secret, not audited as a use."""
        data = (await self._request("GET", f"/v1/credentials/{credential_id}")).get("credential")
        if not isinstance(data, dict):
            raise CredentialsUnavailable("auth service: credential metadata missing")
        return data

    async def list_for(self, account_id: str) -> list[dict[str, Any]]:
        """Metadata of the account's credentials as the auth service lists them (never a
        secret, not audited as a use); the token must cover the account."""
        answer = await self._request("GET", "/v1/credentials", params={"account_id": account_id})
        rows = answer.get("credentials")
        if not isinstance(rows, list):
            raise CredentialsUnavailable("auth service: credential list missing")
        return [r for r in rows if isinstance(r, dict)]

    async def get(self, credential_id: str, purpose: str = "") -> Credential:
        """The credential, from the cache while fresh, else from the auth service (audited)."""
        hit = self.cached(credential_id)
        if hit is not None:
            return hit
        data = await self._post(f"/v1/credentials/{credential_id}/use", {"purpose": purpose})
        credential = Credential(
            credential_id=str(data["credential_id"]),
            account_id=str(data["account_id"]),
            exchange=str(data["exchange"]),
            version=int(data["version"]),
            api_key=str(data["api_key"]),
            secret=str(data["secret"]),
            passphrase=data.get("passphrase"),
        )
        self._cache[credential_id] = (time.monotonic() + self.ttl_s, credential)
        return credential

    async def sign(self, credential_id: str, payload: str, purpose: str = "") -> tuple[str, str]:
        """(api key, signature of ``payload``) by the exchange's default scheme, signed by the
        auth service: no secret here."""
        data = await self.sign_request(credential_id, None, {"payload": payload}, purpose)
        return str(data["api_key"]), str(data["signature"])

    async def sign_request(
        self,
        credential_id: str,
        scheme: str | None,
        fields: Mapping[str, str],
        purpose: str = "",
    ) -> dict[str, Any]:
        """The auth service's answer to signing ``fields`` by ``scheme`` (the exchange's default
        when None): ``api_key``, ``scheme``, ``signature``, ``headers``, ``version``."""
        body: dict[str, Any] = {"fields": dict(fields), "purpose": purpose}
        if scheme is not None:
            body["scheme"] = scheme
        return await self._post(f"/v1/credentials/{credential_id}/sign", body)

    async def handle_event(self, record: Record) -> None:
        event = record.message
        assert isinstance(event, auth_pb2.CredentialEvent)
        if event.action in _EVICTING and self.evict(event.credential_id):
            log.info(
                "cached credential dropped",
                extra={
                    "credential_id": event.credential_id,
                    "action": auth_pb2.CredentialAction.Name(event.action),
                },
            )

    def listener(
        self,
        bootstrap_servers: str,
        dlq_producer: Producer,
        *,
        topic: TopicSpec = AUTH_CREDENTIALS,
        client_id: str = "credentials-client",
    ) -> Consumer:
        """A consumer of ``auth.credentials.v1`` that evicts revoked and rotated credentials.

        Its group is unique to this instance (every instance must see every event) and starts
        at the latest offset: a cache that starts empty has nothing older to evict.
        """
        return Consumer(
            ConsumerConfig(
                bootstrap_servers,
                group_id=f"{client_id}-{uuid.uuid4().hex[:12]}",
                client_id=client_id,
                auto_offset_reset="latest",
            ),
            [topic],
            self.handle_event,
            dlq_producer,
        )
