"""Kraken key validation's signing scheme (``eip.exchanges.kraken.credentials``) against the
venue's documented example, and the contract's scheme checks on it."""

from __future__ import annotations

import pytest

from eip.exchanges.contract.credentials import ExchangeSecret, SigningInputError, signing_scheme
from eip.exchanges.kraken.credentials import KrakenValidator

# docs.kraken.com/api/docs/guides/spot-rest-auth, "Example": the documented inputs and API-Sign.
DOC_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)
DOC_NONCE = "1616492376594"
DOC_BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
DOC_SIGN = (
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
)


def test_kraken_rest_signature_matches_the_documented_example() -> None:
    fields = {"path": "/0/private/AddOrder", "nonce": DOC_NONCE, "body": DOC_BODY}
    name, scheme = signing_scheme(KrakenValidator("http://unused"), None, fields)
    assert name == "kraken-rest"  # Kraken's default
    signed = scheme.sign(ExchangeSecret("the-key", DOC_SECRET), fields)
    assert signed.signature == DOC_SIGN
    assert signed.headers == {"API-Key": "the-key", "API-Sign": DOC_SIGN}
    # the path is signed: the same body for another method is another signature
    other = scheme.sign(ExchangeSecret("the-key", DOC_SECRET), {**fields, "path": "/0/private/X"})
    assert other.signature != DOC_SIGN


@pytest.mark.parametrize(
    ("scheme", "fields", "complaint"),
    [
        ("binance-rest", {"payload": "a=1"}, "signs with kraken-rest, not 'binance-rest'"),
        ("kraken-rest", {"path": "/0/private/Balance", "nonce": "1"}, "needs body"),
        ("kraken-rest", {"payload": "nonce=1"}, "needs body, nonce, path"),
        (
            "kraken-rest",
            {"path": "/p", "nonce": "1", "body": "nonce=1", "secret": "x"},
            "does not take secret",
        ),
    ],
)
def test_fields_that_do_not_fit_krakens_scheme_are_refused(
    scheme: str, fields: dict[str, str], complaint: str
) -> None:
    with pytest.raises(SigningInputError, match=complaint):
        signing_scheme(KrakenValidator("http://unused"), scheme, fields)


def test_a_secret_that_is_not_base64_signs_nothing_and_says_nothing_of_itself() -> None:
    _, scheme = signing_scheme(
        KrakenValidator("http://unused"), "kraken-rest", {"path": "/p", "nonce": "1", "body": ""}
    )
    with pytest.raises(ValueError, match="not base64") as caught:
        scheme.sign(ExchangeSecret("k", "not base64 !!"), {"path": "/p", "nonce": "1", "body": ""})
    assert "not base64 !!" not in str(caught.value)
