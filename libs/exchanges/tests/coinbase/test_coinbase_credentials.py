"""Coinbase's CDP JWTs as auth signs them: they verify with the key's public half and carry the
claims Coinbase documents; fields that do not fit are refused before the key is read."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from eip.exchanges.coinbase.credentials import CoinbaseValidator
from eip.exchanges.contract.credentials import (
    ExchangeSecret,
    KeyRejected,
    SigningInputError,
    signing_scheme,
)
from eip.tokens.jwt import jws_to_der, parse

KEY_NAME = "organizations/3f1c0e52-org/apiKeys/9d7a41be-key"


def ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def public_of(pem: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key.public_key()


def test_a_rest_jwt_verifies_with_the_public_key_and_has_the_documented_claims() -> None:
    pem = ec_pem()
    secret = ExchangeSecret(KEY_NAME, pem)
    fields = {"method": "post", "host": "api.coinbase.com", "path": "/api/v3/brokerage/orders"}
    name, scheme = signing_scheme(CoinbaseValidator("http://unused"), None, fields)
    assert name == "coinbase-jwt"  # the default scheme
    before = int(time.time())
    signed = scheme.sign(secret, fields)
    assert signed.signature is not None
    assert signed.headers == {"Authorization": f"Bearer {signed.signature}"}
    header, claims, message, signature = parse(signed.signature)
    public_of(pem).verify(jws_to_der(signature), message, ec.ECDSA(hashes.SHA256()))
    assert (header["alg"], header["typ"], header["kid"]) == ("ES256", "JWT", KEY_NAME)
    assert len(header["nonce"]) == 32
    assert (claims["iss"], claims["sub"]) == ("cdp", KEY_NAME)
    assert claims["uri"] == "POST api.coinbase.com/api/v3/brokerage/orders"
    assert before <= claims["nbf"] <= int(time.time())
    assert claims["exp"] == claims["nbf"] + 120
    # a fresh token (and nonce) every time: Coinbase refuses a token it has seen
    again = scheme.sign(secret, fields).signature
    assert again != signed.signature
    assert parse(again or "")[0]["nonce"] != header["nonce"]


def test_a_websocket_jwt_has_no_uri_and_a_host_given_with_its_scheme_is_bare_in_the_uri() -> None:
    pem = ec_pem()
    secret = ExchangeSecret(KEY_NAME, pem)
    _, ws = signing_scheme(CoinbaseValidator("http://unused"), "coinbase-ws-jwt", {})
    token = ws.sign(secret, {}).signature
    assert token is not None
    header, claims, message, signature = parse(token)
    public_of(pem).verify(jws_to_der(signature), message, ec.ECDSA(hashes.SHA256()))
    assert "uri" not in claims
    assert claims["sub"] == header["kid"] == KEY_NAME
    fields = {"method": "GET", "host": "http://127.0.0.1:8300", "path": "/api/v3/brokerage/x"}
    _, rest = signing_scheme(CoinbaseValidator("http://unused"), "coinbase-jwt", fields)
    token = rest.sign(secret, fields).signature
    assert parse(token or "")[1]["uri"] == "GET 127.0.0.1:8300/api/v3/brokerage/x"


@pytest.mark.parametrize(
    ("scheme", "fields", "error"),
    [
        ("coinbase-jwt", {"method": "GET", "host": "h"}, "needs path"),
        ("coinbase-jwt", {"method": "GET", "host": "h", "path": "/p", "body": "{}"}, "body"),
        ("coinbase-ws-jwt", {"uri": "GET h/p"}, "does not take uri"),
        ("binance-rest", {"payload": "a=1"}, "signs with coinbase-jwt, coinbase-ws-jwt"),
    ],
)
def test_fields_that_do_not_fit_a_coinbase_scheme_are_refused(
    scheme: str, fields: dict[str, str], error: str
) -> None:
    with pytest.raises(SigningInputError, match=error):
        signing_scheme(CoinbaseValidator("http://unused"), scheme, fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"method": "FETCH", "host": "h", "path": "/p"},
        {"method": "GET", "host": "h/x", "path": "/p"},
        {"method": "GET", "host": "h", "path": "/p?a=1"},
        {"method": "GET", "host": "h", "path": "p"},
    ],
)
def test_a_malformed_uri_part_is_refused_naming_no_value(fields: dict[str, str]) -> None:
    with pytest.raises(SigningInputError) as caught:  # before the secret is read
        signing_scheme(CoinbaseValidator("http://unused"), "coinbase-jwt", fields)
    assert "/p" not in str(caught.value)


def test_a_secret_that_is_not_an_ec_p256_pem_is_a_rejected_key_and_never_quoted() -> None:
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    p384 = (
        ec.generate_private_key(ec.SECP384R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    _, scheme = signing_scheme(CoinbaseValidator("http://unused"), "coinbase-ws-jwt", {})
    for bad in ("not a pem at all", rsa_pem, p384):
        with pytest.raises(KeyRejected) as caught:
            scheme.sign(ExchangeSecret(KEY_NAME, bad), {})
        assert bad[:40] not in str(caught.value)
