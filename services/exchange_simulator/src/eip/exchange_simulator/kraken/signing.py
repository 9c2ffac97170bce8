"""Kraken's request signature (docs.kraken.com, "Spot REST Authentication").

``API-Sign = base64(HMAC-SHA512(key=base64decode(secret), msg=path + SHA256(nonce + body)))``
where ``path`` is the URI path from ``/0/private/`` on and ``body`` the POST body exactly as
sent — form-encoded or JSON, both signed the same way. The nonce appears twice: inside the body
and again in front of it under the SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


def sign(secret: str, path: str, nonce: str, body: str) -> str:
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def verify(secret: str, path: str, nonce: str, body: str, signature: str) -> bool:
    try:
        expected = sign(secret, path, nonce, body)
    except (binascii.Error, ValueError):  # a secret that is not base64 signs nothing
        return False
    return hmac.compare_digest(expected, signature.strip())
