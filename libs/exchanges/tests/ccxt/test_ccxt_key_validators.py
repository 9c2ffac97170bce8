"""Key validation for the venues ccxt trades, as the auth service runs it: the venue's own
key-information call sent and signed by unmodified ccxt to a local server answering with the
venue's documented bodies; the permissions read from them (a key that can withdraw is one auth
refuses), and a refused key as ``KeyRejected``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eip.exchanges import registry
from eip.exchanges.contract.credentials import ExchangeSecret, KeyRejected

from .venue_server import fixture, venue_server

SECRET = ExchangeSecret("key-public-id", "key-secret-value", passphrase="key-passphrase")

CASES: list[tuple[str, dict[str, Any], frozenset[str], bool]] = [
    (
        "okx",
        {"GET /api/v5/account/config": {"body": fixture("okx")["key_config"]}},
        frozenset({"read", "trade"}),
        False,
    ),
    (
        "okx",
        {"GET /api/v5/account/config": {"body": fixture("okx")["key_config_withdraw"]}},
        frozenset({"read", "trade", "withdraw"}),
        True,
    ),
    (
        "bybit",
        {"GET /v5/user/query-api": {"body": fixture("bybit")["query_api"]}},
        frozenset({"read", "trade", "transfer"}),
        True,
    ),
    (
        "bybit",
        {"GET /v5/user/query-api": {"body": fixture("bybit")["query_api_readonly"]}},
        frozenset({"read"}),
        False,
    ),
    (
        "kucoin",
        {"GET /api/v1/user/api-key": {"body": fixture("kucoin")["api_key"]}},
        frozenset({"read", "trade", "withdraw"}),
        True,
    ),
    (
        "htx",
        {
            "GET /v2/user/uid": {"body": fixture("htx")["uid"]},
            "GET /v2/user/api-key": {"body": fixture("htx")["api_key"]},
        },
        frozenset({"read", "trade"}),
        True,
    ),
    (
        "bitfinex",
        {"POST /v2/auth/r/permissions": {"body": fixture("bitfinex")["permissions"]}},
        frozenset({"read", "trade"}),
        False,
    ),
    (
        "bitfinex",
        {"POST /v2/auth/r/permissions": {"body": fixture("bitfinex")["permissions_withdraw"]}},
        frozenset({"read", "trade", "withdraw", "transfer"}),
        False,
    ),
]


@pytest.mark.parametrize(("exchange", "routes", "permissions", "ip_restricted"), CASES)
async def test_permissions_are_read_from_the_venues_key_information(
    exchange: str, routes: dict[str, Any], permissions: frozenset[str], ip_restricted: bool
) -> None:
    async with venue_server(routes) as server:
        validator = registry.create_key_validator(exchange, server.url, 2.0)
        checked = await validator.validate(SECRET)
        await validator.aclose()
    assert checked.permissions == permissions
    assert checked.can_withdraw is bool(permissions & {"withdraw", "transfer"})
    assert checked.ip_restricted is ip_restricted
    assert server.requests  # the venue was asked, signed by ccxt
    sent = server.requests[-1]
    assert SECRET.secret not in json.dumps(dict(sent.headers)) + sent.path_qs + sent.body


def test_passphrase_venues_say_so_and_none_signs_for_others() -> None:
    for exchange, needs in [("okx", True), ("kucoin", True), ("bybit", False), ("htx", False)]:
        validator = registry.create_key_validator(exchange, "http://127.0.0.1:9")
        assert validator.needs_passphrase is needs
        assert dict(validator.signing_schemes) == {}


async def test_a_key_the_venue_refuses_is_rejected_without_the_secret_in_the_message() -> None:
    routes = {"GET /v5/user/query-api": {"status": 401, "body": fixture("bybit")["bad_key"]}}
    async with venue_server(routes) as server:
        validator = registry.create_key_validator("bybit", server.url, 2.0)
        with pytest.raises(KeyRejected) as refused:
            await validator.validate(SECRET)
    assert SECRET.secret not in str(refused.value)
