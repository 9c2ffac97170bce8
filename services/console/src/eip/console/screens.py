"""The console's screens, as data: what each needs (scopes, a service's operation) and whether
it is built yet. The navigation, the page guard and the placeholders all read this table, so a
screen added here appears everywhere at once (docs/CONSOLE.md, "Adding a screen").

A screen that waits for an API names the operation it needs (``"GET /v1/accounts/{account_id}
/balances"``); ``ApiCatalog`` reads each service's public ``/openapi.json`` and tells whether the
service offers it yet. A placeholder therefore says either "waiting for the API" or "the API is
there, the screen comes next", and a built screen whose API is missing says so instead of
failing.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from eip.console.upstream import Upstream, UpstreamError

METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Screen:
    key: str
    title: str
    path: str
    # a session sees the screen only with every one of these scopes
    scopes: tuple[str, ...]
    # the service and the operation the screen is built on; None: several, or none yet
    service: str | None
    operation: str | None
    built: bool
    # what the screen shows (built) or will show (placeholder), for the page and the docs
    summary: str
    issue: int | None = None


SCREENS: tuple[Screen, ...] = (
    Screen(
        "markets",
        "Markets",
        "/markets",
        ("market:read",),
        "market-data",
        "GET /v1/tickers",
        True,
        "Live tickers per venue, the cross-exchange price with each venue's freshness, candles"
        " 1m…1d with volume.",
    ),
    Screen(
        "book",
        "Order book",
        "/book",
        ("books:read",),
        "order-book",
        "GET /v1/books/{exchange}/{symbol}/depth-chart",
        True,
        "Depth chart, ladder, spread and imbalance, walls and clusters, the consolidated"
        " multi-venue book, and whether each book is in sync (desyncs and resyncs listed).",
    ),
    Screen(
        "keys",
        "Keys",
        "/keys",
        ("credentials:admin",),
        "auth",
        "POST /v1/credentials",
        True,
        "Connect an exchange key (the secret goes straight to the auth service), its permissions"
        " and IP restriction as the venue reports them, rotate, revoke.",
    ),
    Screen(
        "platform",
        "Platform",
        "/platform",
        (),
        None,
        None,
        True,
        "Each service's readiness and last error, stream status per venue, Kafka consumer lag,"
        " and the audit trail with its chain verification.",
    ),
    Screen(
        "accounts",
        "Accounts",
        "/accounts",
        ("accounts:read",),
        "account",
        "GET /v1/accounts/{account_id}/balances",
        True,
        "Connections and their status, balances per venue and consolidated in a chosen quote"
        " currency (unvalued assets listed), portfolio value over time, allocation, PnL.",
        14,
    ),
    Screen(
        "orders",
        "Orders",
        "/orders",
        ("orders:write",),
        "order-management",
        "POST /v1/orders",
        False,
        "An order ticket for every order type with the risk check's answer and the expected"
        " slippage before sending, open orders with amend and cancel, history with each order's"
        " timeline, cancel-all, confirmations waiting for a second operator, and the kill switch"
        " (platform / exchange / account: active, reducing, halted).",
        15,
    ),
    Screen(
        "rules",
        "Rules & arbitrage",
        "/rules",
        ("rules:read",),
        "automation",
        "GET /v1/rules",
        True,
        "Automation rules with their state and last firings, pause and resume (rules:write),"
        " and the open cross-exchange opportunities (alerts:read).",
        16,
    ),
)
BY_KEY = {s.key: s for s in SCREENS}


class ApiCatalog:
    """Which operations each service offers, from its public OpenAPI document, refreshed at most
    every ``ttl_s``. A service that does not answer offers nothing for now."""

    def __init__(self, upstream: Upstream, ttl_s: float = 30.0) -> None:
        self.upstream = upstream
        self.ttl_s = ttl_s
        self._operations: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = asyncio.Lock()

    async def operations(self, service: str) -> frozenset[str]:
        cached = self._operations.get(service)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        async with self._lock:
            try:
                spec = await self.upstream.get(service, "/openapi.json", None)
            except UpstreamError:
                found: frozenset[str] = frozenset()
            else:
                found = frozenset(
                    f"{method.upper()} {path}"
                    for path, item in (spec.get("paths") or {}).items()
                    for method in item
                    if method in METHODS
                )
            self._operations[service] = (time.monotonic(), found)
            return found

    async def offers(self, screen: Screen) -> bool | None:
        """Whether the screen's service offers its operation (None: the screen names none)."""
        if screen.service is None or screen.operation is None:
            return None
        return screen.operation in await self.operations(screen.service)
