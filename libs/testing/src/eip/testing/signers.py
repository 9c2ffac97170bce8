"""A Binance request signer holding the secret in this process, for benchmarks that measure
an adapter (or a service built on one) without the auth service's signing hop
(``bench/trading_adapter.py``, ``bench/order_path.py``). Production signs through auth
(``eip.credentials_client.AuthRequestSigner``): the secret never leaves it."""

from __future__ import annotations

import hashlib
import hmac

from eip.exchange_simulator.client import ApiCredentials
from eip.exchanges.contract.signing import SignedRequest, SigningRequest


class LocalSigner:
    """HMAC-SHA256 over the request's payload with the key's secret, as Binance signs."""

    exchange = "binance"

    def __init__(self, credentials: ApiCredentials) -> None:
        self._key = credentials.api_key
        self._secret = credentials.secret.encode()

    async def sign(self, request: SigningRequest) -> SignedRequest:
        payload = request.fields["payload"]
        signature = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
        return SignedRequest(self._key, signature, {"X-MBX-APIKEY": self._key})

    async def aclose(self) -> None:
        pass
