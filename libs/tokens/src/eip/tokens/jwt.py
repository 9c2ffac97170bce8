"""ES256 JSON Web Tokens: the pieces both the issuer (auth service) and every verifier use.

Only ES256 is accepted. A verifier that trusted the token's own ``alg`` header could be
talked into "none" or into HMAC with the public key as the secret; pinning the algorithm
closes both. The signature is the JWS form, ``r || s`` (64 bytes), which is also what Vault
Transit returns with ``marshaling_algorithm=jws``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ALGORITHM = "ES256"
# Every scope a client may be given; reads and changes apart (docs/ARCHITECTURE.md, HTTP
# security, has the table of which operation asks for which).
SCOPES = frozenset(
    {
        "market:read",
        "market:admin",
        "books:read",
        "books:admin",
        "accounts:read",
        "orders:read",
        "orders:write",
        "orders:confirm",
        "risk:admin",
        "credentials:use",
        "credentials:admin",
        "audit:read",
        "tokens:introspect",
        "rules:read",
        "rules:write",
        "alerts:read",
        "automation:admin",
    }
)


class TokenError(Exception):
    """The token is not acceptable. ``code`` is machine-readable; the text never quotes the
    token."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise TokenError("malformed_token", "token is not valid base64url") from None


def _json_part(data: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(data, separators=(",", ":"), sort_keys=True).encode())


def signing_input(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bytes:
    return f"{_json_part(header)}.{_json_part(claims)}".encode()


def jws_to_der(signature: bytes) -> bytes:
    if len(signature) != 64:
        raise TokenError("bad_signature", "signature has the wrong length")
    return encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))


def der_to_jws(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32) + s.to_bytes(32)


def jwk_from_pem(pem: str, kid: str) -> dict[str, str]:
    """The public JWK (RFC 7517) of a P-256 public key in PEM."""
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("only P-256 public keys are published")
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "alg": ALGORITHM,
        "use": "sig",
        "kid": kid,
        "x": b64url_encode(numbers.x.to_bytes(32)),
        "y": b64url_encode(numbers.y.to_bytes(32)),
    }


def public_key_from_jwk(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("not a P-256 EC key")
    x = int.from_bytes(b64url_decode(str(jwk["x"])))
    y = int.from_bytes(b64url_decode(str(jwk["y"])))
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


@dataclass(frozen=True)
class Claims:
    subject: str
    scopes: frozenset[str]
    accounts: frozenset[str]
    issued_at: int
    expires_at: int
    token_id: str
    raw: Mapping[str, Any] = field(default_factory=dict)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def may_use_account(self, account: str) -> bool:
        return account in self.accounts


def parse(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, signature) without checking anything."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise TokenError("malformed_token", "token is not a compact JWS")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except ValueError:
        raise TokenError("malformed_token", "token header or claims are not JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError("malformed_token", "token header or claims are not objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), b64url_decode(parts[2])


KeyLookup = Callable[[str], ec.EllipticCurvePublicKey | None]


def verify_token(
    token: str,
    keys: KeyLookup,
    *,
    issuer: str,
    audience: str,
    now: float | None = None,
    leeway_s: int = 30,
) -> Claims:
    """Check algorithm, key id, signature, then iss, aud, exp, nbf — in that order, so nothing
    from an unsigned token is trusted."""
    header, claims, signed, signature = parse(token)
    if header.get("alg") != ALGORITHM:
        raise TokenError("bad_algorithm", f"only {ALGORITHM} tokens are accepted")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise TokenError("unknown_key", "token has no key id")
    key = keys(kid)
    if key is None:
        raise TokenError("unknown_key", "token is signed with an unknown key")
    try:
        key.verify(jws_to_der(signature), signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise TokenError("bad_signature", "token signature is invalid") from None
    t = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise TokenError("wrong_issuer", "token was not issued by the expected issuer")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise TokenError("wrong_audience", "token is not meant for this audience")
    exp, nbf, iat = claims.get("exp"), claims.get("nbf", 0), claims.get("iat", 0)
    if not isinstance(exp, int) or not isinstance(nbf, int) or not isinstance(iat, int):
        raise TokenError("malformed_token", "exp, nbf and iat must be integers")
    if t > exp + leeway_s:
        raise TokenError("expired", "token has expired")
    if t < nbf - leeway_s:
        raise TokenError("not_yet_valid", "token is not valid yet")
    scope = claims.get("scope", "")
    accounts = claims.get("accounts", [])
    if not isinstance(scope, str) or not isinstance(accounts, list):
        raise TokenError("malformed_token", "scope must be a string and accounts a list")
    return Claims(
        subject=str(claims.get("sub", "")),
        scopes=frozenset(scope.split()),
        accounts=frozenset(str(a) for a in accounts),
        issued_at=iat,
        expires_at=exp,
        token_id=str(claims.get("jti", "")),
        raw=claims,
    )
