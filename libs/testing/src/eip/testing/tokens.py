"""Service tokens for tests of services that verify them: the one way a test calls an endpoint
behind a token.

``TokenIssuer`` signs tokens shaped exactly as the auth service's (same header and claims,
ES256 over ``eip.tokens.signing_input``) with a P-256 key made for the test session, and serves
the key's JWKS over real HTTP on a loopback port. A service under test is configured with
``issuer.settings()`` (its ``auth_jwks_url``, ``auth_issuer``, ``auth_audience``), so its own
``TokenVerifier`` — built by ``eip.runtime.service_app`` as in production — fetches the JWKS
over HTTP and checks every token on the production path. Only the signing key differs: the
auth service keeps its key in Vault Transit, which the auth service's own tests and the
cross-service test (``tests/integration/test_http_security.py``) use for real.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypedDict

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eip.tokens import ALGORITHM, SCOPES, jwk_from_pem, signing_input
from eip.tokens.jwt import b64url_encode, der_to_jws

ISSUER = "eip-auth"
AUDIENCE = "eip"
JWKS_PATH = "/v1/.well-known/jwks.json"


class VerifierSettings(TypedDict):
    auth_jwks_url: str
    auth_issuer: str
    auth_audience: str


class TokenIssuer:
    def __init__(self, jwks_url: str, kid: str = "1") -> None:
        self.jwks_url = jwks_url
        self.issuer = ISSUER
        self.audience = AUDIENCE
        self.kid = kid
        self._key = ec.generate_private_key(ec.SECP256R1())
        pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.jwks: dict[str, Any] = {"keys": [jwk_from_pem(pem.decode(), kid)]}

    def settings(self) -> VerifierSettings:
        """Keyword arguments of a ``ProtectedServiceSettings`` that trust this issuer."""
        return {
            "auth_jwks_url": self.jwks_url,
            "auth_issuer": self.issuer,
            "auth_audience": self.audience,
        }

    def environment(self, prefix: str) -> dict[str, str]:
        """The same, as the environment of a service process with settings prefix ``prefix``."""
        return {f"{prefix}{name.upper()}": str(value) for name, value in self.settings().items()}

    def token(
        self,
        scopes: Iterable[str] = SCOPES,
        *,
        subject: str = "test-client",
        accounts: Iterable[str] = (),
        ttl_s: int = 3600,
        **overrides: Any,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "scope": " ".join(sorted(scopes)),
            "accounts": sorted(accounts),
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": str(uuid.uuid4()),
            **overrides,
        }
        signed = signing_input({"alg": ALGORITHM, "typ": "JWT", "kid": self.kid}, claims)
        signature = der_to_jws(self._key.sign(signed, ec.ECDSA(hashes.SHA256())))
        return f"{signed.decode()}.{b64url_encode(signature)}"

    def headers(self, scopes: Iterable[str] = SCOPES, **kwargs: Any) -> dict[str, str]:
        """``Authorization`` with a token carrying ``scopes`` (by default every scope)."""
        return {"Authorization": f"Bearer {self.token(scopes, **kwargs)}"}


@contextmanager
def serve_issuer() -> Iterator[TokenIssuer]:
    """A ``TokenIssuer`` whose JWKS answers on 127.0.0.1 until the block ends."""
    holder: dict[str, TokenIssuer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer = holder["issuer"]
            if self.path != JWKS_PATH:
                self.send_error(404)
                return
            body = json.dumps(issuer.jwks).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the tests' output is theirs

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    holder["issuer"] = TokenIssuer(f"http://127.0.0.1:{port}{JWKS_PATH}")
    thread = threading.Thread(target=server.serve_forever, name="test-jwks", daemon=True)
    thread.start()
    try:
        yield holder["issuer"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
