"""A local HTTP server that answers the ccxt trading adapter with recorded venue responses and
captures what it sent (method, path and query, headers, body), so tests check the requests
unmodified ccxt built and signed, and run the venue's recorded answers through ccxt's real
HTTP, error and parse path — nothing of ccxt or the adapter is replaced but the clock.

Recorded bodies live in ``trading_fixtures/<venue>.json`` (see the README there for where each
comes from). A route is ``"METHOD /path"``; its answer ``{"status": 200, "body": ...}`` or
``{"hang": true}`` (no answer until the client gives up: a read time-out after the request
left), or a function of the request's parameters (its query, and its body's fields when that is
a JSON object) returning such an answer (one path, answers that depend on what was asked:
pages, HTX's ``type``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from eip.exchanges.ccxt.trading import CcxtTradingAdapter, CcxtVenueProfile
from eip.exchanges.ccxt.urls import rewrite_urls
from eip.exchanges.contract.credentials import ExchangeSecret

FIXTURES = Path(__file__).parent / "trading_fixtures"


def fixture(venue: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{venue}.json").read_text())
    return data


@dataclass
class Captured:
    method: str
    path_qs: str
    headers: Mapping[str, str]
    body: str


@dataclass
class VenueServer:
    routes: dict[str, Any] = field(default_factory=dict)
    requests: list[Captured] = field(default_factory=list)
    url: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)  # ends hanging answers

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.text()
        self.requests.append(Captured(request.method, request.path_qs, dict(request.headers), body))
        answer = self.routes.get(f"{request.method} {request.path}")
        if callable(answer):
            fields: dict[str, Any] = dict(request.query)
            try:
                sent = json.loads(body) if body else None
            except ValueError:
                sent = None
            if isinstance(sent, dict):
                fields.update(sent)
            answer = answer(fields)
        if answer is None:
            return web.json_response({"unrouted": f"{request.method} {request.path}"}, status=599)
        if answer.get("hang"):
            await self.release.wait()
        text = answer["body"] if isinstance(answer["body"], str) else json.dumps(answer["body"])
        return web.Response(
            text=text,
            status=int(answer.get("status", 200)),
            content_type="application/json",
            headers=answer.get("headers"),
        )

    def sent(self, method: str, path: str) -> Captured:
        found = [r for r in self.requests if r.method == method and r.path_qs.split("?")[0] == path]
        assert found, f"no {method} {path} among {[(r.method, r.path_qs) for r in self.requests]}"
        return found[-1]


@asynccontextmanager
async def venue_server(routes: Mapping[str, Any] | None = None) -> AsyncIterator[VenueServer]:
    server = VenueServer(dict(routes or {}))
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server.release.set()
        await runner.cleanup()


class FixedSecret:
    """The credential as auth would hand it out (``SecretSource``), counting the hand-outs."""

    def __init__(self, exchange: str, secret: ExchangeSecret) -> None:
        self.exchange = exchange
        self._secret = secret
        self.handed_out = 0

    async def secret(self) -> ExchangeSecret:
        self.handed_out += 1
        return self._secret


def adapter_at(
    profile: CcxtVenueProfile,
    secret: ExchangeSecret,
    url: str,
    markets: list[dict[str, Any]],
    *,
    nonce: int,
    timeout_ms: int = 2_000,
) -> CcxtTradingAdapter:
    """The venue's adapter with every REST host moved to ``url`` and the clock fixed at
    ``nonce`` (what each venue's signer reads: ms, s or an incrementing nonce)."""
    adapter = CcxtTradingAdapter(
        profile, FixedSecret(profile.exchange, secret), timeout_ms=timeout_ms
    )
    client = adapter.client
    client.urls["api"] = rewrite_urls(client.urls["api"], url)
    client.nonce = lambda: nonce
    client.incrementing_nonce = lambda: nonce
    client.milliseconds = lambda: nonce
    client.seconds = lambda: nonce // 1000
    client.enableRateLimit = False
    adapter.use_markets(markets)
    return adapter
