"""Key validation for the venues ccxt trades (``KeyValidator``, for the auth service): the venue's
own key-information call, sent and signed by unmodified ccxt, its answer read by the venue's
package (``<venue>/credentials.py``: which call, which fields say trade, withdraw, transfer, IP).

ccxt signs in-process, so these validators hold the secret for the one call, in the auth
service, which holds it anyway. They sign nothing for others: ``signing_schemes`` is empty and
``/v1/credentials/{id}/sign`` answers 422 for these venues — their trading adapter signs
through ccxt with the secret it gets from ``/use``.

Endpoint: each venue's ``default_base_url`` is the host of its key-information call, where
the auth service sends it unless configured otherwise (``AUTH_<VENUE>_BASE_URL``). At that
default ccxt keeps its own URLs (each API section on its own host: Bitfinex's private
``api.bitfinex.com`` beside its public ``api-pub``); any other base moves every section to
one host, as a simulator or a test server needs.

Refusals: ccxt's ``AuthenticationError`` (bad key, signature, passphrase, IP; ``PermissionDenied``
for a key that may not read its own information) → ``KeyRejected``; anything else (network,
5xx, an answer that cannot be read) → ``ExchangeUnavailable``. Messages never carry the
secret (ccxt quotes the venue's body, which does not echo it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import ccxt

from eip.exchanges.ccxt.decimal_context import in_own_decimal_context
from eip.exchanges.ccxt.market_data import new_client
from eip.exchanges.contract.credentials import (
    ExchangeSecret,
    ExchangeUnavailable,
    KeyPermissions,
    KeyRejected,
    SigningScheme,
)

# (a ccxt client holding the key) → what the venue says the key may do
ReadPermissions = Callable[[Any], Awaitable[KeyPermissions]]


class CcxtKeyValidator:
    """One venue's validator; a venue package subclasses it with ``exchange``,
    ``default_base_url``, ``read`` and ``needs_passphrase``."""

    exchange: str = ""
    default_base_url: str = ""  # the venue's public host of the key-information call
    needs_passphrase: bool = False
    supports_ip_allowlist: bool = True
    signing_schemes: Mapping[str, SigningScheme] = {}
    default_scheme: str = ""  # none: ccxt signs in-process

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s

    async def read(self, client: Any) -> KeyPermissions:
        raise NotImplementedError

    def client(self) -> Any:
        """A ccxt client (no key yet) aimed where this validator calls."""
        moved = None if self.base_url == self.default_base_url else self.base_url
        return new_client(self.exchange, moved, int(self.timeout_s * 1000))

    async def validate(self, secret: ExchangeSecret) -> KeyPermissions:
        client = self.client()
        client.apiKey = secret.api_key
        client.secret = secret.secret
        client.password = secret.passphrase or ""
        try:
            return await in_own_decimal_context(lambda: self.read(client))
        except ccxt.AuthenticationError as exc:
            raise KeyRejected(f"{self.exchange} refused the key ({type(exc).__name__})") from None
        except (ccxt.BaseError, KeyError, ValueError, TypeError, IndexError) as exc:
            raise ExchangeUnavailable(
                f"{self.exchange} did not answer usefully ({type(exc).__name__})"
            ) from None
        finally:
            client.secret = ""
            client.password = ""
            await client.close()

    async def aclose(self) -> None:
        """Nothing held between validations: each one has its own ccxt client."""
