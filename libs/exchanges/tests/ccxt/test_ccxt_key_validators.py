"""Key validation for the venues ccxt trades, as the auth service runs it: the venue's own
key-information call sent and signed by unmodified ccxt to a local server answering with the
venue's documented bodies; the permissions read from them (a key that can withdraw is one auth
refuses), a refused key as ``KeyRejected``, and each validator's default endpoint: the host
ccxt itself sends the call to."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eip.exchanges import registry
from eip.exchanges.ccxt.credentials import CcxtKeyValidator
from eip.exchanges.ccxt.market_data import new_client
from eip.exchanges.contract.credentials import ExchangeSecret, KeyRejected

from .venue_server import fixture, venue_server

SECRET = ExchangeSecret("key-public-id", "key-secret-value", passphrase="key-passphrase")
# Gate.io lists keys masked as their first 12 characters (its documented "c5dcfbf1f3a7*****")
GATE_SECRET = ExchangeSecret("c5dcfbf1f3a79d3e0b1f2a4c6e8f0a1b", "key-secret-value")
CCXT_VENUES = ["kucoin", "bitfinex", "htx", "bybit", "okx", "gateio"]

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
    for exchange, needs in [
        ("okx", True),
        ("kucoin", True),
        ("bybit", False),
        ("htx", False),
        ("bitfinex", False),
        ("gateio", False),
    ]:
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


GATE_KEYS = "GET /api/v4/account/main_keys"


@pytest.mark.parametrize(
    ("body", "permissions", "ip_restricted"),
    [
        ("main_keys", frozenset({"read", "trade"}), False),
        ("main_keys_wallet", frozenset({"read", "withdraw", "transfer"}), True),
    ],
)
async def test_gateio_reads_the_permissions_of_the_listed_key_its_mask_matches(
    body: str, permissions: frozenset[str], ip_restricted: bool
) -> None:
    async with venue_server({GATE_KEYS: {"body": fixture("gateio")[body]}}) as server:
        validator = registry.create_key_validator("gateio", server.url, 2.0)
        checked = await validator.validate(GATE_SECRET)
    assert checked.permissions == permissions
    assert checked.ip_restricted is ip_restricted
    sent = server.sent("GET", "/api/v4/account/main_keys")
    assert sent.headers["KEY"] == GATE_SECRET.api_key  # signed by ccxt as Gate documents
    assert len(sent.headers["SIGN"]) == 128  # hex HMAC-SHA512
    assert GATE_SECRET.secret not in json.dumps(dict(sent.headers)) + sent.path_qs + sent.body


async def test_a_gateio_answer_of_the_calling_keys_own_entry_is_read_as_it_is() -> None:
    entry = fixture("gateio")["main_keys_wallet"][0]
    async with venue_server({GATE_KEYS: {"body": {**entry, "key": {"mode": 1}}}}) as server:
        validator = registry.create_key_validator("gateio", server.url, 2.0)
        checked = await validator.validate(GATE_SECRET)
    assert checked.can_withdraw


@pytest.mark.parametrize(
    ("answer", "api_key", "reason"),
    [
        ({"body": fixture("gateio")["main_keys"]}, "0" * 32, "without this one"),
        ({"body": fixture("gateio")["main_keys_locked"]}, GATE_SECRET.api_key, "is locked"),
        (
            {"status": 403, "body": fixture("gateio")["forbidden"]},
            GATE_SECRET.api_key,
            "lacks the Account (read) permission",
        ),
    ],
)
async def test_a_gateio_key_whose_permissions_cannot_be_read_is_rejected_saying_why(
    answer: dict[str, Any], api_key: str, reason: str
) -> None:
    async with venue_server({GATE_KEYS: answer}) as server:
        validator = registry.create_key_validator("gateio", server.url, 2.0)
        with pytest.raises(KeyRejected) as refused:
            await validator.validate(ExchangeSecret(api_key, GATE_SECRET.secret))
    assert reason in str(refused.value)
    assert GATE_SECRET.secret not in str(refused.value)


@pytest.mark.parametrize("exchange", CCXT_VENUES)
async def test_by_default_a_validator_calls_the_venue_where_ccxt_itself_does(
    exchange: str,
) -> None:
    default = registry.key_validator_base_url(exchange)
    assert default.startswith("https://")
    validator = registry.create_key_validator(exchange)
    moved = registry.create_key_validator(exchange, "http://127.0.0.1:9")
    assert isinstance(validator, CcxtKeyValidator)
    assert isinstance(moved, CcxtKeyValidator)
    own, at_default, at_server = new_client(exchange), validator.client(), moved.client()
    try:
        hosts = {own.implode_hostname(url).split("/")[2] for url in _urls(own.urls["api"])}
        assert default.removeprefix("https://") in hosts  # the host of ccxt's own calls
        assert at_default.urls["api"] == own.urls["api"]  # ccxt's URLs left as they are
        assert {url.split("/")[2] for url in _urls(at_server.urls["api"])} == {"127.0.0.1:9"}
    finally:
        for client in (own, at_default, at_server):
            await client.close()


def _urls(tree: Any) -> list[str]:
    if isinstance(tree, dict):
        return [url for value in tree.values() for url in _urls(value)]
    if isinstance(tree, list):
        return [url for value in tree for url in _urls(value)]
    return [tree] if isinstance(tree, str) and "://" in tree else []
