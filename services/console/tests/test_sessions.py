"""Sessions against the platform's real auth service (tests/conftest.py): the operator's token
renewed before it expires, and a session that ends when its client may no longer have tokens."""

from __future__ import annotations

import uuid

import httpx
import pytest

from eip.console.sessions import LoginRefused, SessionEnded, SessionStore
from eip.console.settings import ConsoleSettings
from eip.console.upstream import Upstream
from eip.tokens import TokenVerifier

from .conftest import Platform

pytestmark = pytest.mark.integration


async def test_a_token_is_renewed_before_it_expires_and_a_disabled_client_ends_the_session(
    platform: Platform,
) -> None:
    client_id = f"renewal-{uuid.uuid4().hex[:6]}"
    secret = platform.create_client(client_id, ["books:read", "market:read"])
    # renew when less than an hour is left of a 300 s token: every use renews
    settings = ConsoleSettings(
        auth_url=platform.auth,
        order_book_url=platform.order_book,
        auth_jwks_url=f"{platform.auth}/v1/.well-known/jwks.json",
        token_renew_before_s=3600,
    )
    upstream = Upstream(settings)
    verifier = TokenVerifier(settings.auth_jwks_url, issuer="eip-auth", audience="eip")
    store = SessionStore(settings, upstream, verifier)
    try:
        with pytest.raises(LoginRefused) as refused:
            await store.login(client_id, "not-the-secret")
        assert refused.value.status == 401
        cookie, session = await store.login(client_id, secret)
        assert session.scopes == {"books:read", "market:read"}
        first = session._token
        renewed = await store.token(session)
        assert renewed != first
        assert session.renewals == 1
        # the renewed token works at a service
        books = await upstream.get("order-book", "/v1/books", renewed)
        assert "books" in books

        async with httpx.AsyncClient(timeout=30) as http:
            disabled = await http.post(
                f"{platform.auth}/v1/clients/{client_id}/disable", headers=platform.headers()
            )
        assert disabled.status_code == 200, disabled.text
        with pytest.raises(SessionEnded):
            await store.token(session)
        assert store.get(cookie) is None  # gone: the cookie opens nothing any more
        assert session._token == ""  # and the secret and token are dropped
    finally:
        await upstream.aclose()
        await verifier.aclose()
