"""The Coinbase dialect's request pipeline: faults, authentication, permission, error shapes.

Every Coinbase REST call goes through ``CoinbaseVenue.call``: an injected fault first
(``rest_faults``, the one function every dialect shares; a dropped response runs everything
below and loses the answer), then for a private endpoint the JWT (``auth.py``), the key's IP
allow-list and its permission (a read-only key gets ``403 PERMISSION_DENIED`` on order entry),
then the handler. The handler answers a JSON body or raises a ``CoinbaseError``; the core's
refusals that reach here become Coinbase errors too, and anything else a 500 ``INTERNAL``
(logged: a simulator bug) — never a traceback.

The venue also holds the dialect's state shared by REST and WebSocket: the JWT verifier, the
UUIDs, and what Coinbase knows about orders beyond the core (``orders.py``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from eip.exchange_simulator.coinbase import errors, wire
from eip.exchange_simulator.coinbase.auth import JwtVerifier, Unauthenticated
from eip.exchange_simulator.coinbase.errors import Api, CoinbaseError
from eip.exchange_simulator.coinbase.ids import CoinbaseIds
from eip.exchange_simulator.coinbase.orders import CoinbaseOrders
from eip.exchange_simulator.coinbase.wire import VENUE
from eip.exchange_simulator.core.accounts import ApiKey, Permission
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.orders import Rejection
from eip.exchange_simulator.rest_faults import answer_with_faults

log = logging.getLogger(__name__)

_DECIMAL = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")


@dataclass
class Ctx:
    """One request: its query and body, the authenticated key, the exchange time."""

    request: Request
    now_ms: int
    raw_body: bytes = b""
    key: ApiKey | None = None
    _json: Any = field(default=None, repr=False)

    @property
    def account_id(self) -> str:
        assert self.key is not None
        return self.key.account_id

    def query(self, name: str) -> str | None:
        value = self.request.query_params.get(name)
        return value if value else None

    def query_list(self, name: str) -> list[str]:
        """A repeated query parameter (``product_ids=A&product_ids=B``); commas split too."""
        values = self.request.query_params.getlist(name)
        return [v for value in values for v in value.split(",") if v]

    def query_int(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.query(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise errors.invalid(f"{name} must be an integer") from None
        if not lo <= value <= hi:
            raise errors.invalid(f"{name} must be between {lo} and {hi}")
        return value

    def query_time(self, name: str) -> int | None:
        """An RFC 3339 time parameter, as unix milliseconds."""
        raw = self.query(name)
        if raw is None:
            return None
        try:
            return wire.parse_time(raw)
        except ValueError:
            raise errors.invalid(f"{name} must be an RFC 3339 time") from None

    def body(self) -> dict[str, Any]:
        """The JSON object the request carries."""
        if self._json is None:
            try:
                parsed = json.loads(self.raw_body or b"{}")
            except ValueError:
                raise errors.invalid("the request body is not valid JSON") from None
            if not isinstance(parsed, dict):
                raise errors.invalid("the request body must be a JSON object")
            self._json = parsed
        result: dict[str, Any] = self._json
        return result


def decimal_field(raw: Any, name: str) -> Decimal:
    """A decimal sent as a string (as Coinbase's API takes every amount); a JSON number is
    refused, so a client that sends floats finds out here, and so is anything but plain digits
    (no exponent, no sign, at most 20 digits each side of the point)."""
    if not isinstance(raw, str):
        raise errors.invalid(f"{name} must be a decimal string")
    if not _DECIMAL.fullmatch(raw):
        raise errors.invalid(f"{name} is not a decimal: {raw[:40]!r}")
    value = Decimal(raw)
    if value <= 0:
        raise errors.invalid(f"{name} must be a positive decimal")
    return value


Handler = Callable[[Ctx], Awaitable[Any]]


class CoinbaseVenue:
    def __init__(self, exchange: Exchange, faults: Faults) -> None:
        self.exchange = exchange
        self.faults = faults
        self.ids = CoinbaseIds()
        self.verifier = JwtVerifier(exchange)
        self.orders = CoinbaseOrders(exchange, self.ids)
        self.by_product = {wire.product_id(i): i for i in exchange.instruments.values()}

    def instrument(self, product_id: str | None) -> Instrument:
        inst = self.by_product.get(product_id or "")
        if inst is None:
            raise errors.not_found("ProductID is invalid")
        return inst

    async def call(
        self,
        request: Request,
        handler: Handler,
        *,
        private: bool = False,
        permission: Permission = Permission.READ,
        api: Api = "v3",
    ) -> Response:
        async def answer() -> Response:
            return await self._answer(request, handler, private, permission, api)

        def failure(status: int) -> Response:
            return JSONResponse(
                CoinbaseError(status, "INTERNAL", "internal error").body(api), status
            )

        return await answer_with_faults(self.faults, request, VENUE, answer, failure)

    async def _answer(
        self, request: Request, handler: Handler, private: bool, permission: Permission, api: Api
    ) -> Response:
        try:
            ctx = Ctx(request, self.exchange.now_ms(), await request.body())
            if private:
                ctx.key = self._authenticate(request, ctx)
                if permission not in ctx.key.permissions:
                    raise errors.permission_denied()
            return JSONResponse(await handler(ctx))
        except Unauthenticated as exc:
            reason = str(exc).replace('"', "'")
            description = f'error_description="{reason}"'
            log.info(
                "coinbase request not authenticated: %s", reason, extra={"path": request.url.path}
            )
            return PlainTextResponse(
                "Unauthorized",
                401,
                headers={"WWW-Authenticate": f'Bearer error="invalid_token", {description}'},
            )
        except CoinbaseError as exc:
            return JSONResponse(exc.body(api), exc.status)
        except Rejection as exc:
            failure = errors.from_rejection(exc)
            return JSONResponse(
                CoinbaseError(400, "INVALID_ARGUMENT", failure.message).body(api), 400
            )
        except Exception:
            log.exception("simulator bug while serving %s", request.url.path)
            return JSONResponse(CoinbaseError(500, "INTERNAL", "internal error").body(api), 500)

    def _authenticate(self, request: Request, ctx: Ctx) -> ApiKey:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("no Authorization: Bearer <JWT> header")
        key = self.verifier.verify_rest(
            token.strip(), request.method, request.url.path, ctx.now_ms / 1000
        )
        ip = request.client.host if request.client else "unknown"
        if not key.allows_ip(ip):
            raise Unauthenticated(f"this key does not accept requests from {ip}")
        return key
