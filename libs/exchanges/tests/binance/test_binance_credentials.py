"""Binance key validation's signing schemes (``eip.exchanges.binance.credentials``) against the
venue's documented vectors, and the scheme checks of the contract on Binance's schemes."""

from __future__ import annotations

import pytest

from eip.exchanges.binance.credentials import BinanceValidator
from eip.exchanges.contract.credentials import ExchangeSecret, SigningInputError, signing_scheme

DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


def test_binance_rest_signature_matches_the_documented_vector() -> None:
    secret = ExchangeSecret(DOC_KEY, DOC_SECRET)
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    validator = BinanceValidator("http://unused")
    # a bare payload is the default scheme's one field, as before schemes existed
    name, scheme = signing_scheme(validator, None, {"payload": payload})
    assert name == "binance-rest"
    signed = scheme.sign(secret, {"payload": payload})
    assert signed.signature == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    assert signed.headers == {"X-MBX-APIKEY": DOC_KEY}


def test_binance_ws_api_signature_adds_the_key_and_matches_the_documented_vector() -> None:
    # web-socket-api.md, "SIGNED request example (HMAC)": the caller sends the parameters
    # without the key; the signed payload has the key among them, sorted by name.
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": "100",
        "timestamp": "1645423376532",
    }
    _, scheme = signing_scheme(BinanceValidator("http://unused"), "binance-ws-api", params)
    signed = scheme.sign(ExchangeSecret(DOC_KEY, DOC_SECRET), params)
    assert signed.signature == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


@pytest.mark.parametrize(
    ("scheme", "fields", "complaint"),
    [
        ("kraken-rest", {"payload": "a=1"}, "signs with binance-rest, binance-ws-api"),
        ("binance-rest", {}, "needs payload"),
        ("binance-rest", {"payload": "a=1", "path": "/x"}, "does not take path"),
        ("binance-ws-api", {"apiKey": "someone-else", "timestamp": "1"}, "does not take apiKey"),
        ("binance-ws-api", {"signature": "x"}, "does not take signature"),
    ],
)
def test_fields_that_do_not_fit_the_scheme_are_refused_naming_fields_only(
    scheme: str, fields: dict[str, str], complaint: str
) -> None:
    with pytest.raises(SigningInputError, match=complaint) as caught:
        signing_scheme(BinanceValidator("http://unused"), scheme, fields)
    assert "a=1" not in str(caught.value)
    assert "someone-else" not in str(caught.value)
