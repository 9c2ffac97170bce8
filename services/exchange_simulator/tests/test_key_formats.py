"""Keys are made in each venue's own format, and a dialect takes only its own venue's keys."""

from __future__ import annotations

import base64
import re

import pytest

from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.key_formats import coinbase_public_key, new_key


def test_binance_keys_are_64_alphanumeric_characters() -> None:
    key, secret = new_key("binance")
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert re.fullmatch(r"[0-9a-f]{64}", secret)


def test_kraken_secrets_decode_to_64_bytes() -> None:
    key, secret = new_key("kraken")
    assert len(key) == 56
    assert base64.b64decode(key)
    assert len(base64.b64decode(secret)) == 64


def test_coinbase_keys_are_cdp_resource_names_with_an_ec_p256_pem() -> None:
    name, pem = new_key("coinbase")
    assert re.fullmatch(r"organizations/[0-9a-f-]{36}/apiKeys/[0-9a-f-]{36}", name)
    assert pem.startswith("-----BEGIN EC PRIVATE KEY-----")
    assert coinbase_public_key(pem).curve.name == "secp256r1"


def test_a_key_is_found_only_by_its_own_venues_dialect(exchange: Exchange) -> None:
    ex = exchange
    kraken = ex.create_api_key("alice", venue="kraken")
    binance = ex.create_api_key("alice")
    assert ex.key_for(kraken.key, "kraken") is kraken
    assert ex.key_for(kraken.key) is None
    assert ex.key_for(binance.key, "kraken") is None
    assert ex.key_for(binance.key) is binance


def test_an_unknown_venue_is_refused() -> None:
    with pytest.raises(ValueError, match="venue must be one of"):
        new_key("ftx")  # type: ignore[arg-type]
