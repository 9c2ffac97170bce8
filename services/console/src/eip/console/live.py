"""Live pages: Server-Sent Events from the console's backend, which follows the services' data
through their public HTTP APIs with the operator's token.

The services push nothing over HTTP today, so each open page has one follower on the server
that asks the services what changed, at the settings' pace (``CONSOLE_BOOK_POLL_INTERVAL_S``,
0.1 s, about the rate a venue's book updates; markets 1 s; platform 3 s), and sends the browser
only what did change: a book when its ``(epoch, sequence)`` moved, a table when its HTML
differs from the last one sent, candles when the newest one changed. The browser never polls;
it holds one EventSource per page. When services grow streaming endpoints, only the followers
change.

Events: ``fragment`` (``{"id", "html"}``: server-rendered HTML replacing an element's content),
``depth`` and ``candles`` (JSON for the charts), ``logout`` (the session ended), and comment
lines as keep-alive.

What is subtle:

- A follower asks for the session's token at every round, so the token is renewed while a page
  stays open; a session that ended stops its streams with ``logout``.
- A service that fails shows its error in the fragment it feeds; the other fragments of the
  page go on.
- A book out of sync is never drawn: the order-book service answers 409 for its levels, and the
  depth chart is told ``in_sync: false`` with the reason.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from eip.console.render import Renderer
from eip.console.sessions import Session, SessionEnded, SessionStore
from eip.console.settings import ConsoleSettings
from eip.console.upstream import SERVICES, Upstream, UpstreamError
from eip.console.watch import BookWatch

T = TypeVar("T")
KEEPALIVE_S = 15.0
TIMEFRAMES = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
CANDLES_SHOWN = 120
BOOK_DEPTH = 100
LADDER_DEPTH = 15


@dataclass(frozen=True)
class Event:
    name: str
    data: Any = None

    def encode(self) -> bytes:
        if self.name == "ping":
            return b": keep-alive\n\n"
        payload = json.dumps(self.data, separators=(",", ":"))
        return f"event: {self.name}\ndata: {payload}\n\n".encode()


@dataclass
class Result:
    """A service's answer or the error it gave, for a fragment that shows either."""

    value: Any = None
    error: UpstreamError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def attempt(call: Awaitable[T]) -> Result:
    try:
        return Result(await call)
    except UpstreamError as exc:
        return Result(error=exc)


@dataclass
class Live:
    settings: ConsoleSettings
    upstream: Upstream
    sessions: SessionStore
    renderer: Renderer
    watch: BookWatch
    # the last error each service answered or the console met, with its time
    service_errors: dict[str, tuple[float, str]] = field(default_factory=dict)


class Changes:
    """Fragments already sent to one page: only a different one is sent again."""

    def __init__(self) -> None:
        self._sent: dict[str, str] = {}
        self.last_sent = time.monotonic()

    def fragment(self, element_id: str, html: str) -> Event | None:
        if self._sent.get(element_id) == html:
            return None
        self._sent[element_id] = html
        return Event("fragment", {"id": element_id, "html": html})

    def ping(self) -> Event | None:
        if time.monotonic() - self.last_sent > KEEPALIVE_S:
            return Event("ping")
        return None


def dash(symbol: str) -> str:
    return symbol.replace("/", "-")


async def stream(events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"
    try:
        async for event in events:
            yield event.encode()
    except SessionEnded:
        yield Event("logout", {"reason": "session ended"}).encode()


async def emit(changes: Changes, events: list[Event | None]) -> AsyncIterator[Event]:
    for event in events:
        if event is not None:
            changes.last_sent = time.monotonic()
            yield event


# --- order book ---------------------------------------------------------------------------------


def largest(buckets: list[dict[str, Any]], count: int = 3) -> list[dict[str, Any]]:
    """The ``count`` largest clusters of a side, by size (decimal strings compared as decimals)."""
    return sorted(buckets, key=lambda b: Decimal(b["size"]), reverse=True)[:count]


def depth_payload(
    depth: dict[str, Any], walls: dict[str, Any] | None, clusters: dict[str, Any] | None
) -> dict[str, Any]:
    def points(side: list[dict[str, Any]]) -> list[list[str]]:
        return [[p["price"], p["cumulative_size"], p["size"]] for p in side]

    def top_clusters(side: list[dict[str, Any]]) -> list[list[str]]:
        return [[b["price"], b["size"], str(b["levels"])] for b in largest(side)]

    return {
        "exchange": depth["exchange"],
        "symbol": depth["symbol"],
        "in_sync": True,
        "epoch": depth["epoch"],
        "sequence": depth["sequence"],
        "age_ms": depth["age_ms"],
        "bids": points(depth["bids"]),
        "asks": points(depth["asks"]),
        "walls": {
            side: [[w["price"], w["size"], w["ratio"]] for w in (walls or {}).get(side, [])]
            for side in ("bids", "asks")
        },
        "clusters": {
            "width": (clusters or {}).get("width"),
            **{side: top_clusters((clusters or {}).get(side, [])) for side in ("bids", "asks")},
        },
    }


def cluster_width(depth: dict[str, Any], buckets: int = 20) -> str | None:
    """A round bucket width (1, 2 or 5 times a power of ten) that cuts the drawn range of the book
    into about ``buckets`` clusters, so the clusters mean the same on a thin book as on a deep
    one; None for an empty book."""
    prices = [Decimal(p["price"]) for p in (*depth["bids"], *depth["asks"])]
    if len(prices) < 2 or max(prices) == min(prices):
        return None
    wanted = (max(prices) - min(prices)) / buckets
    base = Decimal(1).scaleb(wanted.adjusted())
    width = next(base * m for m in (1, 2, 5, 10) if base * m >= wanted)
    return format(width.normalize(), "f")


async def follow_book(
    live: Live, session: Session, exchange: str, symbol: str
) -> AsyncIterator[Event]:
    r, up, changes = live.renderer, live.upstream, Changes()
    path = f"/v1/books/{exchange}/{dash(symbol)}"
    last: tuple[int, int] | None = None
    walls = clusters = None
    width: str | None = None
    slow_due = 0.0
    while True:
        token = await live.sessions.token(session)
        out: list[Event | None] = []
        depth = await attempt(
            up.get("order-book", f"{path}/depth-chart", token, {"depth": BOOK_DEPTH})
        )
        if depth.ok:
            width = cluster_width(depth.value) or width
            position = (int(depth.value["epoch"]), int(depth.value["sequence"]))
            if position != last:
                last = position
                # The chart and the ladder come from this one answer (the ladder is the top of
                # the same levels), so they reach the page before anything else is asked.
                ladder = r.render(
                    "fragments/ladder.html",
                    bids=depth.value["bids"][:LADDER_DEPTH],
                    asks=depth.value["asks"][:LADDER_DEPTH],
                )
                first = [
                    Event("depth", depth_payload(depth.value, walls, clusters)),
                    changes.fragment("ladder", ladder),
                ]
                async for event in emit(changes, first):
                    yield event
                stats = await attempt(
                    up.get("order-book", f"{path}/stats", token, {"depths": "1,5,10"})
                )
                out.append(changes.fragment("stats", r.render("fragments/stats.html", stats=stats)))
            out.append(
                changes.fragment(
                    "book-state",
                    r.render("fragments/book_state.html", state=depth.value, error=None),
                )
            )
        else:
            error = depth.error
            assert error is not None
            if last is not None or changes.fragment("depth-probe", error.code) is not None:
                reason = error.details.get("reason") if isinstance(error.details, dict) else None
                out.append(
                    Event(
                        "depth",
                        {
                            "exchange": exchange,
                            "symbol": symbol,
                            "in_sync": False,
                            "reason": reason or error.code,
                            "message": error.message,
                        },
                    )
                )
            last = None
            out.append(
                changes.fragment(
                    "book-state", r.render("fragments/book_state.html", state=None, error=error)
                )
            )
        if time.monotonic() >= slow_due:
            # Once a second: what changes slowly or costs more to compute on the service.
            slow_due = time.monotonic() + 1.0
            calls = [
                up.get("order-book", "/v1/books", token),
                up.get(
                    "order-book", f"{path}/walls", token, {"window": 5, "factor": 5, "depth": 200}
                ),
                up.get("order-book", f"/v1/consolidated/{dash(symbol)}", token, {"depth": 12}),
            ]
            if width is not None:
                calls.append(
                    up.get("order-book", f"{path}/clusters", token, {"bucket": width, "depth": 500})
                )
            books, walls_r, consolidated, *rest = await asyncio.gather(*(attempt(c) for c in calls))
            clusters_r = rest[0] if rest else Result(error=None)
            if books.ok:
                live.watch.observe(books.value["books"])
            walls = walls_r.value if walls_r.ok else None
            clusters = clusters_r.value if clusters_r.ok else None
            out += [
                changes.fragment(
                    "books",
                    r.render("fragments/books.html", books=books, exchange=exchange, symbol=symbol),
                ),
                changes.fragment(
                    "desyncs",
                    r.render(
                        "fragments/desyncs.html",
                        transitions=live.watch.recent(),
                        books=books.value["books"] if books.ok else [],
                    ),
                ),
                changes.fragment(
                    "consolidated",
                    r.render("fragments/consolidated.html", consolidated=consolidated),
                ),
                changes.fragment(
                    "walls",
                    r.render(
                        "fragments/walls.html",
                        walls=walls_r,
                        clusters=clusters,
                        largest={
                            side: largest((clusters or {}).get(side, []))
                            for side in ("bids", "asks")
                        },
                    ),
                ),
            ]
        out.append(changes.ping())
        async for event in emit(changes, out):
            yield event
        await asyncio.sleep(live.settings.book_poll_interval_s)


# --- markets ------------------------------------------------------------------------------------


def candles_window(timeframe: str, now: datetime | None = None) -> dict[str, str]:
    step = TIMEFRAMES[timeframe]
    end = now or datetime.now(UTC)
    start = end - timedelta(seconds=step * CANDLES_SHOWN)
    return {"start": start.isoformat(), "end": end.isoformat()}


async def follow_markets(
    live: Live, session: Session, symbol: str, exchange: str | None, timeframe: str
) -> AsyncIterator[Event]:
    r, up, changes = live.renderer, live.upstream, Changes()
    last_candles: Any = None
    while True:
        token = await live.sessions.token(session)
        calls: list[Awaitable[Any]] = [
            up.get("market-data", "/v1/tickers", token),
            up.get("market-data", f"/v1/cross/{dash(symbol)}", token),
        ]
        if exchange is not None:
            params = {"exchange": exchange, "symbol": symbol, "timeframe": timeframe}
            calls.append(
                up.get("market-data", "/v1/candles", token, params | candles_window(timeframe))
            )
        results = await asyncio.gather(*(attempt(c) for c in calls))
        tickers, cross = results[0], results[1]
        out: list[Event | None] = [
            changes.fragment(
                "tickers", r.render("fragments/tickers.html", tickers=tickers, symbol=symbol)
            ),
            changes.fragment("cross", r.render("fragments/cross.html", cross=cross)),
        ]
        if exchange is not None:
            candles = results[2]
            if candles.ok:
                series = [
                    [c["open_time"], c["open"], c["close"], c["low"], c["high"], c["base_volume"]]
                    for c in candles.value["candles"]
                ]
                payload = {
                    "exchange": exchange,
                    "symbol": symbol,
                    "timeframe": timeframe,
                    "source": candles.value.get("source"),
                    "candles": series,
                }
                if payload != last_candles:
                    last_candles = payload
                    out.append(Event("candles", payload))
            out.append(
                changes.fragment(
                    "candles-state",
                    r.render("fragments/candles_state.html", candles=candles, timeframe=timeframe),
                )
            )
        out.append(changes.ping())
        async for event in emit(changes, out):
            yield event
        await asyncio.sleep(live.settings.market_poll_interval_s)


# --- platform -----------------------------------------------------------------------------------


@dataclass
class Probe:
    service: str
    healthy: bool
    version: str | None
    ready: bool
    checks: dict[str, Any]
    lag: list[dict[str, str]]
    error: str | None


def consumer_lag(metrics: str) -> list[dict[str, str]]:
    """``eip_bus_consumer_lag`` samples of a service's /metrics (topic, partition, group, lag)."""
    from prometheus_client.parser import text_string_to_metric_families

    rows = []
    try:
        for family in text_string_to_metric_families(metrics):
            if family.name != "eip_bus_consumer_lag":
                continue
            for sample in family.samples:
                rows.append({**sample.labels, "lag": f"{sample.value:.0f}"})
    except ValueError:
        return []
    return sorted(
        rows, key=lambda r: (r.get("group", ""), r.get("topic", ""), r.get("partition", ""))
    )


async def probe(live: Live, service: str) -> Probe:
    up = live.upstream
    health, ready, metrics = await asyncio.gather(
        attempt(up.get(service, "/healthz", None)),
        attempt(up.raw(service, "GET", "/readyz")),
        attempt(up.raw(service, "GET", "/metrics")),
    )
    checks: dict[str, Any] = {}
    is_ready = False
    error = None
    if ready.ok:
        try:
            body = ready.value.json()
            checks = dict(body.get("checks", {}))
        except ValueError:
            checks = {}
        is_ready = ready.value.status_code == 200
        failing = [f"{name}: {c.get('error')}" for name, c in checks.items() if not c.get("ok")]
        error = "; ".join(failing) or None
    else:
        assert ready.error is not None
        error = ready.error.message
    if error is not None:
        live.service_errors[service] = (time.time(), error)
    lag = consumer_lag(metrics.value.text) if metrics.ok and metrics.value.is_success else []
    return Probe(
        service,
        health.ok,
        health.value.get("version") if health.ok else None,
        is_ready,
        checks,
        lag,
        error,
    )


async def kill_switches(live: Live, token: str) -> Result:
    """Order management's kill switches (risk:admin): those set at any level, each with its
    state, reason, who set it and when."""
    return await attempt(live.upstream.get("order-management", "/v1/risk/kill-switches", token))


async def follow_platform(live: Live, session: Session) -> AsyncIterator[Event]:
    r, up, changes = live.renderer, live.upstream, Changes()
    while True:
        token = await live.sessions.token(session)
        probes = await asyncio.gather(*(probe(live, s) for s in SERVICES))
        streams = books = None
        if session.has("market:read"):
            streams = await attempt(up.get("market-data", "/v1/status", token))
        if session.has("books:read"):
            books = await attempt(up.get("order-book", "/v1/books", token))
            if books.ok:
                live.watch.observe(books.value["books"])
        out: list[Event | None] = []
        if session.has("risk:admin"):
            switches = r.render(
                "fragments/kill_switches.html", switches=await kill_switches(live, token)
            )
            out.append(changes.fragment("kill-switches-part", switches))
        out += [
            changes.fragment(
                "services",
                r.render("fragments/services.html", probes=probes, errors=live.service_errors),
            ),
            changes.fragment("lag", r.render("fragments/lag.html", probes=probes)),
            changes.fragment(
                "streams", r.render("fragments/streams.html", streams=streams, books=books)
            ),
            changes.fragment(
                "desyncs",
                r.render(
                    "fragments/desyncs.html",
                    transitions=live.watch.recent(),
                    books=books.value["books"] if books is not None and books.ok else [],
                ),
            ),
            changes.ping(),
        ]
        async for event in emit(changes, out):
            yield event
        await asyncio.sleep(live.settings.platform_poll_interval_s)
