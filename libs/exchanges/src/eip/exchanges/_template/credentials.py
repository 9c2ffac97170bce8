"""API key validation and request signing: ``eip.exchanges.contract.credentials.KeyValidator``,
used by the auth service when a key is stored, validated or rotated, and when an adapter asks
it to sign (``POST /v1/credentials/{id}/sign``).

Validation: prove the key and secret work with the cheapest signed read the venue has, then
read what the key may do into ``KeyPermissions`` in the platform's words (``read``, ``trade``,
``withdraw``, ``transfer``, ...) and whether it is restricted to IP addresses; a key that can
withdraw is refused by auth unless overridden. Raise ``KeyRejected`` when the venue refuses the
key and ``ExchangeUnavailable`` when it does not answer usefully — and never put the secret, a
signed URL or a signature into an exception or a log.

Signing is by scheme: ``SIGNING_SCHEMES`` names each way the venue signs a request
(``<venue>-rest``, ``<venue>-ws``, ...) with the fields it takes and the function that signs
them (``SigningScheme``); auth checks the fields against the scheme before it reads the secret,
so adapters never hold one; the trading adapter names the scheme in each ``SigningRequest``.
Pin each scheme with the venue's documented test vectors
(``libs/exchanges/tests/<venue>/test_<venue>_credentials.py``) and list it in
docs/TRADING_ADAPTERS.md's signing table.

The class is what the registry names (``Venue.credentials``) and is built with
``(base_url, timeout_s)``; its ``default_base_url`` is the venue's public API, which the auth
service calls unless its ``AUTH_<VENUE>_BASE_URL`` setting names another endpoint (the
simulator, a test server). Model: ``binance/credentials.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

from eip.exchanges.contract.credentials import (
    ExchangeSecret,
    KeyPermissions,
    Signature,
    SigningScheme,
)


def sign_rest(secret: ExchangeSecret, fields: Mapping[str, str]) -> Signature:
    """The venue's REST signature over ``fields`` (the scheme's, checked by auth)."""
    raise NotImplementedError


SIGNING_SCHEMES: Mapping[str, SigningScheme] = {
    "template-rest": SigningScheme(sign_rest, fields=frozenset({"payload"})),
}


class TemplateValidator:
    exchange = "template"
    default_base_url = "https://api.template.example"
    needs_passphrase = False
    supports_ip_allowlist = True
    signing_schemes = SIGNING_SCHEMES
    default_scheme = "template-rest"

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s

    async def validate(self, secret: ExchangeSecret) -> KeyPermissions:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None
