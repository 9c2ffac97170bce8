"""The Binance dialect's request pipeline: faults, rate limits, authentication, error shapes.

Every REST call goes through ``Venue.call``: an injected fault first (``rest_faults``, the one
function all dialects share; a dropped response runs everything below and loses the answer),
then the request weight (429/418), then for signed endpoints the API key, the key's IP
allow-list and permission, the timestamp window and the HMAC signature — in that order, as
Binance checks them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from eip.exchange_simulator.binance import errors
from eip.exchange_simulator.binance.errors import BinanceError
from eip.exchange_simulator.binance.ratelimit import RateLimiter
from eip.exchange_simulator.binance.signing import rest_payload, verify
from eip.exchange_simulator.core.accounts import ApiKey, Permission
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.core.orders import Rejection
from eip.exchange_simulator.rest_faults import answer_with_faults

log = logging.getLogger(__name__)

_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_API_KEY = re.compile(r"^[A-Za-z0-9]{1,128}$")
MAX_RECV_WINDOW = 60_000
VENUE = "binance"  # the dialect's name in faults and API keys


@dataclass
class Ctx:
    """One request: its merged parameters, the authenticated key, the exchange time."""

    params: dict[str, str]
    now_ms: int
    ip: str
    key: ApiKey | None = None
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers

    @property
    def account_id(self) -> str:
        assert self.key is not None
        return self.key.account_id

    def get(self, name: str) -> str | None:
        value = self.params.get(name)
        return value if value not in (None, "") else None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise errors.mandatory(name)
        return value

    def decimal(self, name: str, required: bool = False) -> Decimal | None:
        raw = self.require(name) if required else self.get(name)
        if raw is None:
            return None
        if not _DECIMAL.match(raw):
            raise BinanceError(
                400,
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is "
                f"'{_DECIMAL.pattern}'.",
            )
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise errors.invalid(name) from None
        if value.as_tuple().exponent < -8:  # type: ignore[operator]
            raise BinanceError(400, -1111, f"Parameter '{name}' has too much precision.")
        return value

    def integer(
        self, name: str, default: int | None = None, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise errors.invalid(name) from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise errors.invalid(name)
        return value


Handler = Callable[[Ctx], Awaitable[Any]]


class Venue:
    def __init__(self, exchange: Exchange, limiter: RateLimiter, faults: Faults) -> None:
        self.exchange = exchange
        self.limiter = limiter
        self.faults = faults

    async def call(
        self,
        request: Request,
        handler: Handler,
        *,
        weight: int | Callable[[Ctx], int] = 1,
        signed: bool = False,
        permission: Permission | None = None,
        api_key_only: bool = False,
    ) -> Response:
        ip = request.client.host if request.client else "unknown"

        async def answer() -> Response:
            return await self._answer(
                request, ip, handler, weight, signed, permission, api_key_only
            )

        def failure(status: int) -> Response:
            return JSONResponse(
                {"code": -1000, "msg": "An unknown error occurred while processing the request."},
                status,
                headers={"X-MBX-USED-WEIGHT-1M": str(self.limiter.used_weight(ip))},
            )

        return await answer_with_faults(self.faults, request, VENUE, answer, failure)

    async def _answer(
        self,
        request: Request,
        ip: str,
        handler: Handler,
        weight: int | Callable[[Ctx], int],
        signed: bool,
        permission: Permission | None,
        api_key_only: bool,
    ) -> Response:
        headers: dict[str, str] = {}
        try:
            params = await _params(request)
            ctx = Ctx(params, self.exchange.now_ms(), ip)
            cost = weight(ctx) if callable(weight) else weight
            used = self.limiter.charge(ip, cost, ctx.now_ms)
            headers["X-MBX-USED-WEIGHT-1M"] = str(used)
            if signed or api_key_only:
                ctx.key = self._authenticate(request, ctx, signed, permission)
            body = await handler(ctx)
            headers.update(ctx.headers)
            return JSONResponse(body, headers=headers)
        except BinanceError as exc:
            headers.setdefault("X-MBX-USED-WEIGHT-1M", str(self.limiter.used_weight(ip)))
            headers.update(exc.headers)
            return JSONResponse(exc.body(), exc.status, headers=headers)
        except Rejection as exc:
            err = errors.from_rejection(exc)
            return JSONResponse(err.body(), err.status, headers=headers)
        except Exception:
            log.exception("simulator bug while serving %s", request.url.path)
            return JSONResponse(
                {"code": -1000, "msg": "An unknown error occurred while processing the request."},
                500,
                headers=headers,
            )

    def _authenticate(
        self,
        request: Request,
        ctx: Ctx,
        signed: bool,
        permission: Permission | None,
    ) -> ApiKey:
        raw_key = request.headers.get("X-MBX-APIKEY", "")
        if not raw_key or not _API_KEY.match(raw_key):
            raise errors.error(errors.BAD_API_KEY_FORMAT)
        key = self.exchange.key_for(raw_key)
        if key is None or not key.allows_ip(ctx.ip):
            raise errors.error(errors.REJECTED_KEY)
        if permission is not None and permission not in key.permissions:
            raise errors.error(errors.REJECTED_KEY)
        if not signed:
            return key
        timestamp = ctx.integer("timestamp")
        if timestamp is None:
            raise errors.mandatory("timestamp")
        recv_window = Decimal(ctx.get("recvWindow") or "5000")
        if recv_window <= 0 or recv_window > MAX_RECV_WINDOW:
            raise BinanceError(400, -1131, "recvWindow must be less than 60000")
        if timestamp >= ctx.now_ms + 1000:
            raise BinanceError(
                400,
                -1021,
                "Timestamp for this request was 1000ms ahead of the server's time.",
            )
        if ctx.now_ms - timestamp > recv_window:
            raise BinanceError(
                400,
                -1021,
                "Timestamp for this request is outside of the recvWindow.",
            )
        signature = ctx.get("signature")
        if signature is None:
            raise errors.mandatory("signature")
        payload = rest_payload(request.url.query, getattr(request.state, "raw_body", ""))
        if not verify(key.secret, payload, signature):
            raise errors.error(errors.BAD_SIGNATURE)
        return key


async def _params(request: Request) -> dict[str, str]:
    """Query string and form body merged; the query wins, as on Binance."""
    raw_body = (await request.body()).decode(errors="replace")
    request.state.raw_body = raw_body
    params: dict[str, str] = {}
    if raw_body and "json" not in request.headers.get("content-type", ""):
        params.update(parse_qsl(raw_body, keep_blank_values=True))
    params.update(parse_qsl(request.url.query, keep_blank_values=True))
    return params
