"""The cache and its eviction rules, without infrastructure (the Kafka path is tested end to end
in services/auth/tests/test_consumers.py)."""

from __future__ import annotations

import time

from eip.bus import Record
from eip.credentials_client import Credential, CredentialsClient
from eip.events.v1 import auth_pb2


def record(credential_id: str, action: int) -> Record:
    event = auth_pb2.CredentialEvent(credential_id=credential_id, action=action)  # type: ignore[arg-type]
    return Record("auth.credentials.v1", 0, 0, credential_id.encode(), event, [], 0)


def credential(cid: str) -> Credential:
    return Credential(cid, "acct", "binance", 1, "key-value", "secret-value")


async def no_token() -> str:
    raise AssertionError("no request expected")


async def test_revoke_and_rotate_evict_other_events_do_not() -> None:
    client = CredentialsClient("http://auth.invalid", no_token, ttl_s=60)
    for cid in ("a", "b", "c"):
        client._cache[cid] = (time.monotonic() + 60, credential(cid))
    await client.handle_event(record("a", auth_pb2.CREDENTIAL_ACTION_REVOKED))
    await client.handle_event(record("b", auth_pb2.CREDENTIAL_ACTION_ROTATED))
    await client.handle_event(record("c", auth_pb2.CREDENTIAL_ACTION_VALIDATED))
    await client.handle_event(record("c", auth_pb2.CREDENTIAL_ACTION_EXPIRING))
    assert client.cached("a") is None
    assert client.cached("b") is None
    assert client.cached("c") is not None
    await client.aclose()


async def test_entries_expire_after_the_ttl() -> None:
    client = CredentialsClient("http://auth.invalid", no_token, ttl_s=60)
    client._cache["a"] = (time.monotonic() - 1, credential("a"))
    assert client.cached("a") is None
    await client.aclose()


def test_secret_is_not_in_repr() -> None:
    text = repr(credential("a"))
    assert "secret-value" not in text
    assert "key-value" not in text
