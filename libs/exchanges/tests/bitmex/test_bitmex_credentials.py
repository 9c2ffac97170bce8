"""BitMEX signing and key validation: the ``bitmex-rest`` scheme against the worked examples of
BitMEX's "API Keys Usage" page (fixed key, secret and expiry, expected hex signature), and the
validator reading a key's permissions from ``GET /api/v1/apiKey`` served by the local stand-in
(recorded layout, ``payloads/bitmex/trading/api_keys.json``) that checks its signature."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from eip.exchanges.bitmex.credentials import SIGNING_SCHEMES, BitmexValidator, sign_rest
from eip.exchanges.contract.credentials import (
    ExchangeSecret,
    KeyRejected,
    SigningInputError,
    signing_scheme,
)
from eip.exchanges.registry import create_key_validator
from eip.testing.bitmex_venue import DOC_KEY, DOC_SECRET, BitmexVenue

PAYLOADS = Path(__file__).parent.parent / "payloads" / "bitmex" / "trading"
WITHDRAW_KEY, WITHDRAW_SECRET = "wDrAw1ngKeyOfTheSameUser0", "w" * 48
READ_KEY, READ_SECRET = "rEAdOnlyKeyOfTheSameUser1", "r" * 48
DOC = ExchangeSecret(DOC_KEY, DOC_SECRET)


@pytest.mark.parametrize(
    ("verb", "path", "expires", "body", "expected"),
    [
        (
            "GET",
            "/api/v1/instrument",
            "1518064236",
            "",
            "c7682d435d0cfe87c16098df34ef2eb5a549d4c5a3c2b1f0f77b8af73423bf00",
        ),
        (
            "GET",
            "/api/v1/instrument?filter=%7B%22symbol%22%3A+%22XBTM15%22%7D",
            "1518064237",
            "",
            "e2f422547eecb5b3cb29ade2127e21b858b235b386bfa45e1c1756eb3383919f",
        ),
        (
            "POST",
            "/api/v1/order",
            "1518064238",
            '{"symbol":"XBTM15","price":219.0,'
            '"clOrdID":"mm_bitmex_1a/oemUeQ4CAJZgP3fjHsA","orderQty":98}',
            "1749cd2ccae4aa49048ae09f0b95110cee706e0944e6a14ad0b3a8cb45bd336b",
        ),
    ],
)
def test_the_signature_is_bitmexs_documented_example(
    verb: str, path: str, expires: str, body: str, expected: str
) -> None:
    fields = {"verb": verb, "path": path, "expires": expires, "body": body}
    signed = sign_rest(DOC, fields)
    assert signed.signature == expected
    assert signed.headers == {
        "api-expires": expires,
        "api-key": DOC_KEY,
        "api-signature": expected,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"verb": "get", "path": "/api/v1/order", "expires": "1", "body": ""},
        {"verb": "GET", "path": "api/v1/order", "expires": "1", "body": ""},
        {"verb": "GET", "path": "/api/v1/order", "expires": "soon", "body": ""},
        {"verb": "GET", "path": "/api/v1/order", "expires": "1"},
        {"verb": "GET", "path": "/api/v1/order", "expires": "1", "body": "", "nonce": "1"},
    ],
)
async def test_fields_that_do_not_fit_the_scheme_are_refused_before_signing(
    fields: dict[str, str],
) -> None:
    validator = BitmexValidator("http://127.0.0.1:1")
    try:
        with pytest.raises(SigningInputError):
            signing_scheme(validator, "bitmex-rest", fields)
    finally:
        await validator.aclose()
    assert set(SIGNING_SCHEMES) == {"bitmex-rest"}


@pytest_asyncio.fixture
async def venue() -> AsyncIterator[BitmexVenue]:
    double = BitmexVenue(
        PAYLOADS,
        secrets={DOC_KEY: DOC_SECRET, WITHDRAW_KEY: WITHDRAW_SECRET, READ_KEY: READ_SECRET},
    )
    keys = double.payload("api_keys.json")
    double.routes[("GET", "/api/v1/apiKey")] = lambda _: (200, keys)
    await double.start()
    yield double
    await double.close()


async def test_the_validator_reads_each_keys_permissions_and_a_withdrawal_key_says_so(
    venue: BitmexVenue,
) -> None:
    validator = create_key_validator("bitmex", venue.url, 5.0)
    try:
        trading = await validator.validate(DOC)
        withdrawing = await validator.validate(ExchangeSecret(WITHDRAW_KEY, WITHDRAW_SECRET))
        reading = await validator.validate(ExchangeSecret(READ_KEY, READ_SECRET))
    finally:
        await validator.aclose()
    assert trading.permissions == {"read", "trade"}
    assert not trading.can_withdraw
    assert not trading.ip_restricted  # 0.0.0.0/0
    assert withdrawing.can_withdraw  # the auth service refuses it
    assert withdrawing.ip_restricted
    assert reading.permissions == {"read"}
    assert all(seen.signed for seen in venue.seen("GET", "/api/v1/apiKey"))


async def test_a_wrong_secret_is_a_rejected_key_and_the_message_holds_no_secret(
    venue: BitmexVenue,
) -> None:
    validator = BitmexValidator(venue.url)
    wrong = "x" * 48
    try:
        with pytest.raises(KeyRejected) as rejected:
            await validator.validate(ExchangeSecret(DOC_KEY, wrong))
    finally:
        await validator.aclose()
    assert "Signature not valid" in str(rejected.value)
    assert wrong not in str(rejected.value)


async def test_a_key_missing_from_the_accounts_keys_is_rejected(venue: BitmexVenue) -> None:
    venue.routes[("GET", "/api/v1/apiKey")] = lambda _: (200, [])
    validator = BitmexValidator(venue.url)
    try:
        with pytest.raises(KeyRejected):
            await validator.validate(DOC)
    finally:
        await validator.aclose()
