"""A BitMEX stand-in for the trading units (the exchange simulator speaks no BitMEX trading):
a small aiohttp server that answers recorded bodies (the caller's payload folder,
``libs/exchanges/tests/payloads/bitmex/trading``), records every request as it arrived and checks
its signature the way BitMEX does (``hex(HMAC_SHA256(secret, verb + path + expires + body))``
with the secret of the ``api-key`` sent), and plays the realtime WebSocket's recorded frames
after a checked ``authKeyExpires``. The adapter talks to it over real HTTP and WebSocket
through the same code as live; only the base URL differs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from eip.exchanges.bitmex.credentials import SIGNING_SCHEMES, api_signature
from eip.exchanges.contract.credentials import ExchangeSecret, signing_scheme
from eip.exchanges.contract.signing import SignedRequest, SigningRequest

# BitMEX's documented example key ("API Keys Usage" page)
DOC_KEY = "LAqUlngMIQkIUjXMUreyu3qn"
DOC_SECRET = "chNOOS4KvNXR_Xq4k4c9qsfoKWvnDecLATCRlcBwyKDYnWgO"  # noqa: S105 (public example)


class _Schemes:
    """What ``signing_scheme`` needs of a validator: BitMEX's schemes."""

    exchange = "bitmex"
    signing_schemes = SIGNING_SCHEMES
    default_scheme = "bitmex-rest"


class SchemeSigner:
    """Signs in this process with the scheme the auth service runs (fields checked first), for
    units without an auth service; production signs through auth and never holds a secret."""

    exchange = "bitmex"

    def __init__(self, key: str = DOC_KEY, secret: str = DOC_SECRET) -> None:
        self._secret = ExchangeSecret(key, secret)
        self.requests: list[SigningRequest] = []

    async def sign(self, request: SigningRequest) -> SignedRequest:
        self.requests.append(request)
        _, scheme = signing_scheme(_Schemes(), request.scheme, request.fields)  # type: ignore[arg-type]
        signed = scheme.sign(self._secret, request.fields)
        return SignedRequest(self._secret.api_key, signed.signature, signed.headers)

    async def aclose(self) -> None:
        pass


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    body: str
    signed: bool  # the signature BitMEX would have checked is right


Answer = tuple[int, Any] | tuple[int, Any, Mapping[str, str]]
Route = Callable[[Seen], Answer | Awaitable[Answer]]


@dataclass
class BitmexVenue:
    payloads: Path  # instruments_active.json, ws_private.jsonl, ...
    secrets: dict[str, str] = field(default_factory=lambda: {DOC_KEY: DOC_SECRET})
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    ws_frames: list[str] = field(default_factory=list)
    ws_auth_ok: list[bool] = field(default_factory=list)
    ws_connections: int = 0
    drop_after_frames: bool = False
    server: TestServer | None = None

    def __post_init__(self) -> None:
        instruments = self.payload("instruments_active.json")
        self.routes.setdefault(("GET", "/api/v1/instrument/active"), lambda _: (200, instruments))
        if not self.ws_frames and (self.payloads / "ws_private.jsonl").exists():
            self.ws_frames = (self.payloads / "ws_private.jsonl").read_text().splitlines()

    def payload(self, name: str) -> Any:
        return json.loads((self.payloads / name).read_text())

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def seen(self, method: str, path: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and r.path == path]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/realtime", self._realtime)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def _signed(self, method: str, raw_path: str, headers: Mapping[str, str], body: str) -> bool:
        secret = self.secrets.get(headers.get("api-key", ""))
        expires = headers.get("api-expires", "")
        if secret is None or not expires:
            return False
        return headers.get("api-signature") == api_signature(
            secret, method, raw_path, expires, body
        )

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        body = await request.text()
        raw_path = request.raw_path
        seen = Seen(
            method=request.method,
            path=urlsplit(raw_path).path,
            query=dict(parse_qsl(urlsplit(raw_path).query)),
            form=dict(parse_qsl(body)),
            body=body,
            signed=self._signed(request.method, raw_path, request.headers, body),
        )
        self.requests.append(seen)
        route = self.routes.get((seen.method, seen.path))
        if route is None:
            return web.json_response(
                {"error": {"message": "Not Found", "name": "HTTPError"}}, status=404
            )
        if "api-key" in request.headers and not seen.signed:
            error = {"error": {"message": "Signature not valid.", "name": "HTTPError"}}
            return web.json_response(error, status=401)
        answer = route(seen)
        if asyncio.iscoroutine(answer):
            answer = await answer
        status, data, *rest = answer  # type: ignore[misc]
        headers = dict(rest[0]) if rest else {}
        return web.Response(
            status=status, text=json.dumps(data), content_type="application/json", headers=headers
        )

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws_connections += 1
        welcome, auth_ack, *subscribed = self.ws_frames
        await ws.send_str(welcome)
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            if message.data == "ping":
                await ws.send_str("pong")
                continue
            op = json.loads(message.data)
            if op.get("op") == "authKeyExpires":
                key, expires, signature = op["args"]
                secret = self.secrets.get(key)
                ok = secret is not None and signature == api_signature(
                    secret, "GET", "/realtime", str(expires), ""
                )
                self.ws_auth_ok.append(ok)
                if not ok:
                    await ws.send_str(
                        json.dumps({"status": 401, "error": "Signature not valid.", "request": op})
                    )
                    continue
                await ws.send_str(auth_ack)
            elif op.get("op") == "subscribe":
                for frame in subscribed:
                    await ws.send_str(frame)
                if self.drop_after_frames:
                    self.drop_after_frames = False
                    await ws.close()
        return ws
