"""What an API key and its secret look like on each venue the simulator speaks.

One simulator account can hold keys of several venues: a fill placed through any dialect
changes the same balances, and each dialect accepts only keys in its own format (a Kraken key
sent to the Binance dialect is an unknown key there, as it would be on the real venues).

- Binance: a 64-character alphanumeric key and secret (HMAC-SHA256 over the query string).
- Kraken: a 56-character base64 key and a base64 secret of 64 bytes; the signature is
  HMAC-SHA512 keyed with the *decoded* secret.
- Coinbase Advanced Trade (CDP keys): the key is a resource name
  ``organizations/{org}/apiKeys/{key}`` and the secret an EC P-256 private key in PEM (SEC1,
  ``-----BEGIN EC PRIVATE KEY-----``), as Coinbase's portal hands them out; clients sign an ES256
  JWT per request, so the simulator keeps the public half to verify it.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

Venue = Literal["binance", "kraken", "coinbase"]
VENUES: tuple[Venue, ...] = ("binance", "kraken", "coinbase")


def new_key(venue: Venue) -> tuple[str, str]:
    """A fresh (key, secret) pair in ``venue``'s own format."""
    if venue == "binance":
        return secrets.token_hex(32), secrets.token_hex(32)
    if venue == "kraken":
        key = base64.b64encode(secrets.token_bytes(42)).decode()
        return key, base64.b64encode(secrets.token_bytes(64)).decode()
    if venue == "coinbase":
        name = f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        return name, pem.decode()
    raise ValueError(f"venue must be one of {VENUES}")


def coinbase_public_key(secret_pem: str) -> ec.EllipticCurvePublicKey:
    """The public half of a Coinbase key's PEM secret, to verify its JWTs."""
    private = serialization.load_pem_private_key(secret_pem.encode(), password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(
        private.curve, ec.SECP256R1
    ):
        raise ValueError("a Coinbase key secret must be an EC P-256 private key")
    return private.public_key()
