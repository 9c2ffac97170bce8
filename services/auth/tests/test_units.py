"""Pieces of the auth service that need no infrastructure."""

from __future__ import annotations

from eip.auth.secrets_hash import check_secret_sync, hash_secret_sync


def test_client_secret_hash_round_trip_and_no_plaintext() -> None:
    stored = hash_secret_sync("s3cret-value")
    assert "s3cret-value" not in stored
    assert stored.startswith("scrypt$")
    assert check_secret_sync("s3cret-value", stored)
    assert not check_secret_sync("s3cret-valuf", stored)
    assert not check_secret_sync("s3cret-value", "md5$x$y")
    assert hash_secret_sync("s3cret-value") != stored  # salted
