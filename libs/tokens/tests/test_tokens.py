"""JWT verification and scope enforcement, with locally generated keys (no infrastructure)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends

from eip.observability.http import create_app
from eip.tokens import Claims, TokenError, TokenVerifier, jwk_from_pem, require_scope
from eip.tokens.jwt import b64url_encode, der_to_jws, signing_input, verify_token

ISS, AUD = "eip-auth", "eip"


def keypair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pem.decode()


KEY, PEM = keypair()
OTHER_KEY, _ = keypair()


def make_token(
    key: ec.EllipticCurvePrivateKey = KEY, kid: str = "1", alg: str = "ES256", **overrides: Any
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISS,
        "aud": AUD,
        "sub": "svc-a",
        "scope": "market:read accounts:read",
        "accounts": ["acct-1"],
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "t1",
    }
    claims.update(overrides)
    signed = signing_input({"alg": alg, "typ": "JWT", "kid": kid}, claims)
    signature = der_to_jws(key.sign(signed, ec.ECDSA(hashes.SHA256())))
    return f"{signed.decode()}.{b64url_encode(signature)}"


def lookup(kid: str) -> ec.EllipticCurvePublicKey | None:
    return KEY.public_key() if kid == "1" else None


def verify(token: str) -> Claims:
    return verify_token(token, lookup, issuer=ISS, audience=AUD)


def test_valid_token_yields_its_claims() -> None:
    claims = verify(make_token())
    assert claims.subject == "svc-a"
    assert claims.scopes == {"market:read", "accounts:read"}
    assert claims.may_use_account("acct-1")
    assert not claims.may_use_account("acct-2")


# Each token is made when its test runs, not at collection: in a long run the test can start
# more than ten minutes after collection, when a token made then to be valid "in 600 s" is valid
# already (the full suite failed `not_yet_valid` so).
@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: make_token(exp=int(time.time()) - 120), "expired"),
        (lambda: make_token(nbf=int(time.time()) + 600), "not_yet_valid"),
        (lambda: make_token(aud="someone-else"), "wrong_audience"),
        (lambda: make_token(iss="evil"), "wrong_issuer"),
        (lambda: make_token(kid="99"), "unknown_key"),
        (lambda: make_token(key=OTHER_KEY), "bad_signature"),
        (lambda: make_token(alg="none"), "bad_algorithm"),
        (lambda: make_token(alg="HS256"), "bad_algorithm"),
        (lambda: "not-a-token", "malformed_token"),
        (lambda: "a.b", "malformed_token"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_tokens_are_refused(make: Callable[[], str], code: str) -> None:
    with pytest.raises(TokenError) as info:
        verify(make())
    assert info.value.code == code


def test_tampered_claims_break_the_signature() -> None:
    header, claims, signature = make_token().split(".")
    forged = json.loads(__import__("base64").urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    forged["scope"] = "credentials:admin"
    forged_part = b64url_encode(json.dumps(forged).encode())
    with pytest.raises(TokenError) as info:
        verify(f"{header}.{forged_part}.{signature}")
    assert info.value.code == "bad_signature"


def test_audience_may_be_a_list() -> None:
    assert verify(make_token(aud=["other", AUD])).subject == "svc-a"


def app_with_verifier() -> Any:
    app = create_app("test", "0")
    verifier = TokenVerifier("http://127.0.0.1:1/jwks", issuer=ISS, audience=AUD)
    verifier.set_keys({"keys": [jwk_from_pem(PEM, "1")]})  # cached: no fetch happens
    app.state.token_verifier = verifier

    @app.get("/v1/orders-thing")
    async def protected(
        claims: Annotated[Claims, Depends(require_scope("orders:write"))],
    ) -> dict[str, str]:
        return {"sub": claims.subject}

    @app.get("/v1/market-thing")
    async def market(
        claims: Annotated[Claims, Depends(require_scope("market:read"))],
    ) -> dict[str, str]:
        return {"sub": claims.subject}

    return app


async def test_scope_enforcement_on_an_endpoint() -> None:
    transport = httpx.ASGITransport(app=app_with_verifier())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        missing = await http.get("/v1/market-thing")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "unauthorized"
        bad = await http.get("/v1/market-thing", headers={"Authorization": "Bearer x.y.z"})
        assert bad.status_code == 401
        token = make_token()
        auth = {"Authorization": f"Bearer {token}"}
        ok = await http.get("/v1/market-thing", headers=auth)
        assert ok.status_code == 200
        assert ok.json() == {"sub": "svc-a"}
        denied = await http.get("/v1/orders-thing", headers=auth)
        assert denied.status_code == 403
        assert denied.json()["error"] == {
            "code": "forbidden",
            "message": "token lacks a required scope",
            "details": {"missing": ["orders:write"]},
        }
        assert token not in denied.text


def test_jwk_round_trip() -> None:
    from eip.tokens.jwt import public_key_from_jwk

    jwk = jwk_from_pem(PEM, "7")
    assert jwk["kid"] == "7"
    assert jwk["alg"] == "ES256"
    assert public_key_from_jwk(jwk).public_numbers() == KEY.public_key().public_numbers()
