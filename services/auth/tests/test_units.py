"""Pieces of the auth service that need no infrastructure."""

from __future__ import annotations

from eip.auth.exchanges import ExchangeSecret, KeyPermissions
from eip.auth.exchanges.binance import BinanceValidator
from eip.auth.secrets_hash import check_secret_sync, hash_secret_sync


def test_client_secret_hash_round_trip_and_no_plaintext() -> None:
    stored = hash_secret_sync("s3cret-value")
    assert "s3cret-value" not in stored
    assert stored.startswith("scrypt$")
    assert check_secret_sync("s3cret-value", stored)
    assert not check_secret_sync("s3cret-valuf", stored)
    assert not check_secret_sync("s3cret-value", "md5$x$y")
    assert hash_secret_sync("s3cret-value") != stored  # salted


def test_secret_material_is_hidden_from_repr() -> None:
    secret = ExchangeSecret("the-key", "the-secret", "the-passphrase")
    assert "the-secret" not in repr(secret)
    assert "the-key" not in repr(secret)
    assert "the-passphrase" not in repr(secret)


def test_transfer_counts_as_withdrawal() -> None:
    assert KeyPermissions(frozenset({"read", "transfer"}), True).can_withdraw
    assert not KeyPermissions(frozenset({"read", "trade"}), True).can_withdraw


def test_binance_signature_matches_the_documented_vector() -> None:
    secret = ExchangeSecret("k", "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    signature = BinanceValidator("http://unused").sign(secret, payload)
    assert signature == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
