"""Service clients are listed, disabled and deleted (audited); their tokens end at once where the
client is looked up (the auth service, introspection) and within their lifetime elsewhere."""

from __future__ import annotations

import time
import uuid

import pytest

from eip.tokens import TokenVerifier

from .conftest import AuthService

pytestmark = pytest.mark.integration


@pytest.fixture
def auth(module_auth: AuthService) -> AuthService:
    """The module's one auth process (conftest): these tests use ids of their own."""
    return module_auth


async def audit_actions(auth: AuthService, subject: str) -> list[tuple[str, str]]:
    response = await auth.http.get(
        f"{auth.base_url}/v1/audit",
        params={"subject": subject, "limit": 1000},
        headers=await auth.admin_headers(),
    )
    assert response.status_code == 200, response.text
    return [(e["action"], e["actor"]) for e in response.json()["events"]]


async def introspect(auth: AuthService, token: str) -> dict[str, object]:
    response = await auth.http.post(
        f"{auth.base_url}/v1/tokens/introspect",
        json={"token": token},
        headers=await auth.admin_headers(),
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_clients_are_listed_disabled_and_deleted_and_each_change_is_audited(
    auth: AuthService,
) -> None:
    client_id = f"svc-{uuid.uuid4().hex[:8]}"
    await auth.create_client(client_id, ["credentials:use"], ["acct-1"])
    admin = await auth.admin_headers()
    listed = await auth.http.get(f"{auth.base_url}/v1/clients", headers=admin)
    assert listed.status_code == 200
    [entry] = [c for c in listed.json()["clients"] if c["client_id"] == client_id]
    assert (entry["scopes"], entry["accounts"], entry["disabled"]) == (
        ["credentials:use"],
        ["acct-1"],
        False,
    )
    assert "secret" not in str(listed.json())

    disabled = await auth.http.post(
        f"{auth.base_url}/v1/clients/{client_id}/disable", headers=admin
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["client"]["disabled"] is True
    deleted = await auth.http.delete(f"{auth.base_url}/v1/clients/{client_id}", headers=admin)
    assert deleted.status_code == 204
    listed = await auth.http.get(f"{auth.base_url}/v1/clients", headers=admin)
    assert client_id not in {c["client_id"] for c in listed.json()["clients"]}
    for method, path in (
        ("POST", f"/v1/clients/{client_id}/disable"),
        ("DELETE", f"/v1/clients/{client_id}"),
    ):
        again = await auth.http.request(method, f"{auth.base_url}{path}", headers=admin)
        assert again.status_code == 404
        assert again.json()["error"]["code"] == "not_found"
    actor = f"client:{auth.admin_id}"
    assert await audit_actions(auth, f"client:{client_id}") == [
        ("client.upsert", actor),
        ("client.disable", actor),
        ("client.delete", actor),
    ]
    # clients are an admin's business
    reader = {"Authorization": f"Bearer {await auth.token(scope='audit:read')}"}
    assert (await auth.http.get(f"{auth.base_url}/v1/clients", headers=reader)).status_code == 403


@pytest.mark.parametrize("change", ["disable", "delete"])
async def test_a_disabled_or_deleted_client_gets_no_token_and_its_tokens_end(
    auth: AuthService, change: str
) -> None:
    client_id = f"svc-{uuid.uuid4().hex[:8]}"
    secret = await auth.create_client(client_id, ["credentials:use"], ["acct-1"])
    token = await auth.token(client_id, secret)
    user = {"Authorization": f"Bearer {token}"}
    assert (await introspect(auth, token))["active"] is True
    assert (await auth.http.get(f"{auth.base_url}/v1/credentials", headers=user)).status_code == 200

    admin = await auth.admin_headers()
    if change == "disable":
        r = await auth.http.post(f"{auth.base_url}/v1/clients/{client_id}/disable", headers=admin)
        assert r.status_code == 200
    else:
        r = await auth.http.delete(f"{auth.base_url}/v1/clients/{client_id}", headers=admin)
        assert r.status_code == 204

    # no new token, at once
    refused = await auth.http.post(
        f"{auth.base_url}/v1/tokens", json={"client_id": client_id, "client_secret": secret}
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_client"
    # immediately where the client is looked up: introspection and the auth service itself
    reason = f"client_{change}d"
    assert await introspect(auth, token) == {"active": False, "reason": reason}
    r = await auth.http.get(f"{auth.base_url}/v1/credentials", headers=user)
    assert r.status_code == 401
    assert r.json()["error"]["details"] == {"reason": reason}
    # a verifier holding only the JWKS cannot know: it accepts the token until it expires,
    # which is at most the token lifetime (AUTH_TOKEN_TTL_S, 300 s here) after its issue
    verifier = TokenVerifier(
        f"{auth.base_url}/v1/.well-known/jwks.json", issuer="eip-auth", audience="eip"
    )
    try:
        claims = await verifier.verify(token)
    finally:
        await verifier.aclose()
    assert claims.subject == client_id
    assert claims.expires_at - claims.issued_at == 300
    assert claims.expires_at <= time.time() + 300


async def test_a_client_created_again_does_not_revive_its_earlier_tokens(
    auth: AuthService,
) -> None:
    client_id = f"svc-{uuid.uuid4().hex[:8]}"
    secret = await auth.create_client(client_id, ["credentials:use"], ["acct-1"])
    old = await auth.token(client_id, secret)
    admin = await auth.admin_headers()
    r = await auth.http.delete(f"{auth.base_url}/v1/clients/{client_id}", headers=admin)
    assert r.status_code == 204
    new_secret = await auth.create_client(client_id, ["credentials:use"], ["acct-1"])
    assert (await introspect(auth, old))["active"] is False
    r = await auth.http.get(
        f"{auth.base_url}/v1/credentials", headers={"Authorization": f"Bearer {old}"}
    )
    assert r.status_code == 401
    new = await auth.token(client_id, new_secret)
    assert (await introspect(auth, new))["active"] is True


async def test_introspection_takes_a_token_of_its_own(auth: AuthService) -> None:
    token = await auth.token(scope="credentials:admin")
    url = f"{auth.base_url}/v1/tokens/introspect"
    anonymous = await auth.http.post(url, json={"token": token})
    assert anonymous.status_code == 401
    other_scope = {"Authorization": f"Bearer {token}"}
    assert (
        await auth.http.post(url, json={"token": token}, headers=other_scope)
    ).status_code == 403


async def test_strings_postgresql_cannot_store_and_bad_times_are_refused_at_the_edge(
    auth: AuthService,
) -> None:
    """The probe's 500s: a NUL byte in a query or a JSON string, a number for a date-time."""
    admin = await auth.admin_headers()
    base = auth.base_url
    for method, path, kwargs in (
        ("GET", "/v1/credentials", {"params": {"account_id": "a\x00b"}}),
        ("GET", "/v1/audit", {"params": {"outcome": "a\x00b"}}),
        ("GET", "/v1/audit", {"params": {"since": "5908"}}),
        ("GET", "/v1/audit", {"params": {"until": "2024-01-01T00:00:00"}}),
        ("GET", "/v1/credentials/a%00b", {}),
        ("POST", "/v1/clients", {"json": {"client_id": "x", "scopes": [], "accounts": ["a\0b"]}}),
        ("POST", "/v1/clients", {"json": {"client_id": "x", "scopes": ["nope:never"]}}),
        ("POST", "/v1/tokens", {"json": {"client_id": "a\0b", "client_secret": "s"}}),
        ("POST", "/v1/clients/a%00b/disable", {}),
    ):
        response = await auth.http.request(method, f"{base}{path}", headers=admin, **kwargs)
        assert response.status_code == 422, (path, kwargs, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
    # a lone surrogate in JSON text, which UTF-8 (and so PostgreSQL) cannot carry
    response = await auth.http.post(
        f"{base}/v1/clients",
        content=b'{"client_id": "x", "scopes": [], "accounts": ["a\\ud800b"]}',
        headers={**admin, "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    ok = await auth.http.get(
        f"{base}/v1/audit", params={"since": "2024-01-01T00:00:00Z"}, headers=admin
    )
    assert ok.status_code == 200
