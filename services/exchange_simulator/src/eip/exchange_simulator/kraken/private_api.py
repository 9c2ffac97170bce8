"""The pipeline of every private Kraken REST call (``POST /0/private/<Method>``): an injected
fault first, then the body (form-encoded, or JSON as ccxt sends batches), the ``API-Key``, the
``API-Sign`` over path + SHA-256(nonce + body), the nonce (strictly greater than the key's last
accepted one), the key's IP allow-list and permission, the API rate counter, and the method.

Every refusal is ``{"error": ["<text>"]}`` with HTTP 200, as Kraken answers; a nonce is only
remembered once the signature proved the key's owner sent it, so a forged request cannot burn
nonces of a real client. Injected faults come through ``rest_faults.answer_with_faults``, the
one function of every dialect: an ``error`` or ``timeout`` answers Kraken's 5xx body
(``EService:Unavailable``), a ``drop-response`` executes the call and loses its answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from eip.exchange_simulator.core.accounts import ApiKey, Permission
from eip.exchange_simulator.kraken import errors
from eip.exchange_simulator.kraken.dialect import VENUE, KrakenDialect
from eip.exchange_simulator.kraken.errors import KrakenError
from eip.exchange_simulator.kraken.signing import verify
from eip.exchange_simulator.rest_faults import answer_with_faults

log = logging.getLogger(__name__)

MAX_NONCE = 2**64 - 1


@dataclass
class PrivateCall:
    method: str
    params: dict[str, Any]
    key: ApiKey
    now_ms: int

    @property
    def account_id(self) -> str:
        return self.key.account_id

    def get(self, name: str) -> Any:
        value = self.params.get(name)
        return None if value == "" else value


Handler = Callable[[PrivateCall], Any]


@dataclass(frozen=True)
class Endpoint:
    permission: Permission
    handler: Handler


def error_body(text: str) -> dict[str, Any]:
    return {"error": [text]}


def unavailable(status: int) -> Response:
    """Kraken's answer to an injected 5xx (and to a ``timeout`` fault the client outwaited)."""
    return JSONResponse(error_body(errors.UNAVAILABLE), status_code=status)


def parse_body(raw: str, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            raise errors.invalid("body") from None
        if not isinstance(parsed, dict):
            raise errors.invalid("body")
        return parsed
    return dict(parse_qsl(raw, keep_blank_values=True))


class PrivateApi:
    def __init__(self, dialect: KrakenDialect, endpoints: dict[str, Endpoint]) -> None:
        self.dialect = dialect
        self.endpoints = endpoints

    async def call(self, request: Request, method: str) -> Response:
        async def answer() -> Response:
            return await self._answer(request, method)

        return await answer_with_faults(self.dialect.faults, request, VENUE, answer, unavailable)

    async def _answer(self, request: Request, method: str) -> Response:
        ex = self.dialect.exchange
        try:
            raw = (await request.body()).decode(errors="replace")
            endpoint = self.endpoints.get(method)
            if endpoint is None:
                raise KrakenError("EGeneral:Unknown method")
            params = parse_body(raw, request.headers.get("content-type", ""))
            now_ms = ex.now_ms()
            key = self._authenticate(request, raw, params, endpoint.permission)
            self.dialect.limiter.charge_call(key.key, method, now_ms)
            result = endpoint.handler(PrivateCall(method, params, key, now_ms))
            return JSONResponse({"error": [], "result": result})
        except KrakenError as exc:
            return JSONResponse(error_body(exc.text))
        except Exception:
            log.exception("simulator bug while serving %s", request.url.path)
            return JSONResponse(error_body(errors.INTERNAL), status_code=500)

    def _authenticate(
        self, request: Request, raw: str, params: dict[str, Any], permission: Permission
    ) -> ApiKey:
        ex = self.dialect.exchange
        key = ex.key_for(request.headers.get("API-Key", "").strip(), VENUE)
        if key is None:
            raise KrakenError(errors.INVALID_KEY)
        nonce_raw = params.get("nonce")
        nonce_text = str(nonce_raw) if isinstance(nonce_raw, (int, str)) else ""
        if not nonce_text.isdigit() or int(nonce_text) > MAX_NONCE:
            raise KrakenError(errors.INVALID_NONCE)
        signature = request.headers.get("API-Sign", "")
        if not signature or not verify(key.secret, request.url.path, nonce_text, raw, signature):
            raise KrakenError(errors.INVALID_SIGNATURE)
        nonce = int(nonce_text)
        if nonce <= self.dialect.nonces.get(key.key, 0):
            raise KrakenError(errors.INVALID_NONCE)
        self.dialect.nonces[key.key] = nonce
        ip = request.client.host if request.client else "unknown"
        if not key.allows_ip(ip) or permission not in key.permissions:
            raise KrakenError(errors.PERMISSION_DENIED)
        return key
