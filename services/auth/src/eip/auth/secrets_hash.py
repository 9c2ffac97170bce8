"""Client secrets, stored as scrypt hashes (the standard library's; memory-hard)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def _scrypt(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)


def hash_secret_sync(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(secret, salt)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_secret_sync(secret: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(_scrypt(secret, base64.b64decode(salt)), base64.b64decode(digest))


async def hash_secret(secret: str) -> str:
    return await asyncio.to_thread(hash_secret_sync, secret)


async def check_secret(secret: str, stored: str) -> bool:
    # scrypt takes tens of milliseconds of CPU by design: off the event loop.
    return await asyncio.to_thread(check_secret_sync, secret, stored)


# A hash of a random secret: checking an unknown client id costs the same as a known one, so
# response time does not tell which client ids exist.
DUMMY_HASH = hash_secret_sync(secrets.token_urlsafe(16))
