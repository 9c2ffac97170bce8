"""The one HTTP app factory: every service's API gets health, readiness, metrics and the same
machine-readable error body.

Errors always have the shape ``{"error": {"code": str, "message": str, "details": ...}}``; a bug
in a handler becomes a 500 with a request id, never a traceback.

What is subtle:

- Invalid input of any kind answers **422** (FastAPI's convention, and what its documents
  promise): a request that fails the schema (``invalid_request``, one detail per field) or a
  check in the handler (``invalid_request``, ``unknown_symbol``, ...). Nothing answers 400.
- Error bodies never amplify a request: validation details name the field and the problem,
  never the input; ``excerpt`` is the one way a handler quotes bad input (a short prefix); and
  every string of an error body is capped here as a last resort, so a 1 MB field gets a small
  answer.
- The OpenAPI document tells the truth about errors: every error status uses the one
  ``ErrorResponse`` model; an operation behind a token (``security`` in its document, from
  ``eip.tokens``) also documents 401, 403 and 503 and names its scopes in its description;
  422 replaces FastAPI's own validation body. Other statuses are declared by the route with
  ``error_responses(404, 409, ...)``.
- ``/readyz`` answers from a cache and never waits on a dependency: a background task
  (``ReadinessMonitor``) runs every check about once a second, each bounded by
  ``READINESS_TIMEOUT_S``, and the answer is the last known state of each with its age. A
  hung database costs the probe nothing: it answers at once, saying "not ready" once the
  check has timed out. A check that is not ready for a reason of the service's own (not yet
  assigned its partitions, stalled) raises ``NotReady``: its ``reason`` code and ``details``
  are reported beside the message, so a probe or an SRE's tooling branches on the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from eip.observability.metrics import render
from eip.observability.redaction import redact_text

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
READINESS_TIMEOUT_S = 3.0  # one check, at most
READINESS_INTERVAL_S = 1.0  # pause between two rounds of checks
# Before the first round has finished, /readyz waits for it this long at most.
READINESS_FIRST_WAIT_S = 0.5
# How much of a bad input an error quotes (excerpt), and the caps every error body is held to.
EXCERPT_CHARS = 64
MAX_MESSAGE_CHARS = 500
MAX_DETAIL_CHARS = 200
MAX_DETAILS = 20


class ApiError(Exception):
    """Raise from a handler to answer with a clear 4xx/5xx body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        # e.g. Retry-After on a 429, WWW-Authenticate on a 401
        self.headers = dict(headers or {})


class NotReady(Exception):
    """Raise from a readiness check: ``/readyz`` reports ``reason`` (machine-readable, e.g.
    ``awaiting_assignment``) and ``details`` beside the message."""

    def __init__(self, reason: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.details = reason, message, dict(details or {})


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable; callers branch on it, never on the text")
    message: str
    details: Any = Field(default=None, description="what the code needs said, if anything")


class ErrorResponse(BaseModel):
    """The body of every error answer of every service."""

    error: ErrorDetail


# The usual meaning of each error status in this platform's APIs, for the documents.
ERROR_DESCRIPTIONS = {
    401: "No token, or a token that is not valid (expired, wrong issuer, bad signature ...)",
    403: "The token lacks a scope or an account this operation needs",
    404: "Not found",
    409: "Conflicts with the current state",
    410: "Gone",
    422: "The request is invalid (invalid_request with one detail per field, or a code saying"
    " which value was refused)",
    429: "Too many requests; retry after Retry-After seconds",
    502: "An exchange did not answer",
    503: "A dependency is unavailable; nothing was changed, retry later",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route for the error statuses it answers besides the ones every
    operation documents by itself (422, and 401/403/503 behind a token)."""
    return {
        status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS.get(status, "Error")}
        for status in statuses
    }


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """The way an error quotes a caller's input: its repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def _capped(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_DETAIL_CHARS else excerpt(value, MAX_DETAIL_CHARS)
    if depth > 4:
        return "..."
    if isinstance(value, Mapping):
        items = list(value.items())[:MAX_DETAILS]
        return {_capped(str(k)): _capped(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [_capped(v, depth + 1) for v in value[:MAX_DETAILS]]
    return value


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "..."
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = _capped(details)
    return {"error": body}


class ReadinessMonitor:
    """The readiness checks run in the background, their last results cached for ``/readyz``.

    A round runs every check concurrently, each bounded by ``timeout_s``, then pauses
    ``interval_s``. ``report()`` never awaits a check: it returns the cached result of each
    with when it was taken (``checked_at``, ``age_s``); before the first round has finished it
    waits for it at most ``first_wait_s``. An old result is reported as it is, with its age:
    it can only be old if the event loop was blocked, and then no probe was answered either.
    The task starts with the app's lifespan, or at the first report when the app runs without
    one (tests on ASGI transport).
    """

    def __init__(
        self,
        checks: Mapping[str, ReadinessCheck],
        interval_s: float = READINESS_INTERVAL_S,
        timeout_s: float = READINESS_TIMEOUT_S,
        first_wait_s: float = READINESS_FIRST_WAIT_S,
    ) -> None:
        self.checks = dict(checks)
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.first_wait_s = first_wait_s
        # name -> (result, monotonic time it was taken, wall time it was taken)
        self._results: dict[str, tuple[dict[str, Any], float, float]] = {}
        self._first_round = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="eip-readiness")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def refresh(self) -> None:
        """One round: every check, concurrently, each bounded by the timeout."""
        names = list(self.checks)
        results = await asyncio.gather(
            *(_run_check(self.checks[name], self.timeout_s) for name in names)
        )
        now, wall = time.monotonic(), time.time()
        for name, result in zip(names, results, strict=True):
            self._results[name] = (result, now, wall)
        self._first_round.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # a check never raises (see _run_check); be safe anyway
                log.warning("readiness round failed", extra={"error": repr(exc)})
            await asyncio.sleep(self.interval_s)

    async def report(self) -> tuple[bool, dict[str, Any]]:
        """(ready, body) from the cached results; never waits on a dependency."""
        self.start()
        if not self._first_round.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._first_round.wait(), self.first_wait_s)
        now = time.monotonic()
        report: dict[str, dict[str, Any]] = {}
        for name in self.checks:
            cached = self._results.get(name)
            if cached is None:
                report[name] = {"ok": False, "error": "not checked yet", "age_s": None}
                continue
            result, taken, wall = cached
            report[name] = {**result, "checked_at": _iso(wall), "age_s": round(now - taken, 3)}
        ready = all(entry["ok"] for entry in report.values())
        ages = [e["age_s"] for e in report.values() if e["age_s"] is not None]
        return ready, {
            "status": "ready" if ready else "not_ready",
            "age_s": max(ages, default=None),
            "checks": report,
        }


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


def create_app(
    service: str,
    version: str,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    monitor = ReadinessMonitor(readiness or {})

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        monitor.start()
        try:
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            await monitor.stop()

    app = FastAPI(title=service, version=version, lifespan=_lifespan)
    app.state.readiness = monitor

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves requests. Says nothing about dependencies."""
        return {"status": "ok", "service": service, "version": version}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        """Readiness: every real dependency answered its last check (run in the background
        about once a second) within the timeout. Answers at once with the last known state
        of each dependency and its age; never waits on one."""
        ready, body = await monitor.report()
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = render()
        return Response(body, media_type=content_type)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Never the input: a field is named and its problem said, and that is all.
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()[:MAX_DETAILS]
        ]
        return JSONResponse(error_body("invalid_request", "request is invalid", details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body that is not JSON at all: invalid input like any
            return JSONResponse(error_body("invalid_request", "request body is not JSON"), 422)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = uuid.uuid4().hex
        log.error(
            "unhandled error",
            exc_info=exc,
            extra={"request_id": request_id, "path": request.url.path},
        )
        return JSONResponse(
            error_body("internal_error", "internal error", {"request_id": request_id}),
            500,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful_errors(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    openapi_version=app.openapi_version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def served_routes(app: FastAPI) -> Iterator[tuple[str, str, Dependant | None]]:
    """``(methods, path, dependant)`` of every route the app serves, included routers' routes
    with their routers' dependencies; ``dependant`` is None for routes that are no operation
    (FastAPI's own /docs, /openapi.json, ...)."""
    for route in iter_route_contexts(app.routes):
        methods = ",".join(sorted(route.methods or {"WEBSOCKET"}))
        yield methods, str(route.path), getattr(route, "dependant", None)


_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def truthful_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Shape an app's OpenAPI document as the module docstring says."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, model in (("ErrorResponse", ErrorResponse), ("ErrorDetail", ErrorDetail)):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        model_schema.pop("$defs", None)
        components.setdefault(name, model_schema)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _error_response(422)
            security = operation.get("security")
            if security and len(security) > 1:
                # a route's documented alternatives (openapi_extra) are merged with FastAPI's
                # own requirement of the dependency, which names no scope: drop that one
                security = operation["security"] = [
                    r for r in security if any(r.values())
                ] or security[:1]
            if security:
                for status in (401, 403, 503):
                    responses.setdefault(str(status), _error_response(status))
                alternatives = [
                    " and ".join(f"`{s}`" for s in scopes) or "any valid token"
                    for requirement in security
                    for scopes in requirement.values()
                ]
                line = "**Token scopes:** " + " or ".join(alternatives) + "."
                description = operation.get("description", "")
                operation["description"] = f"{description}\n\n{line}" if description else line
    return schema


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS.get(status, "Error"),
        "content": {"application/json": {"schema": _ERROR_REF}},
    }


async def _run_check(check: ReadinessCheck, timeout_s: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout_s)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {timeout_s}s"}
    except NotReady as exc:
        return {
            "ok": False,
            "reason": exc.reason,
            "error": redact_text(exc.message),
            "details": _capped(exc.details),
        }
    except Exception as exc:  # a failing dependency is a result here, not an error
        return {"ok": False, "error": redact_text(f"{type(exc).__name__}: {exc}")}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


# Longer than any client of ours keeps an idle connection (httpx: 5 s; aiohttp: 15 s).
KEEP_ALIVE_S = 75


def serve(
    app: FastAPI,
    host: str,
    port: int,
    ws_ping_interval_s: float = 20.0,
    ws_ping_timeout_s: float = 60.0,
) -> None:
    """Run the app until SIGINT/SIGTERM; logging is configured by the caller."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        # Idle keep-alive connections stay open well past the clients' own expiry (httpx drops
        # an idle connection after 5 s, uvicorn's default closes at 5 s too): with equal
        # timeouts a client reused a connection just as the server closed it and the request
        # failed with a ReadError (auth's key validation answered 502 so in a full test run).
        timeout_keep_alive=KEEP_ALIVE_S,
        ws_ping_interval=ws_ping_interval_s,
        ws_ping_timeout=ws_ping_timeout_s,
    )
    uvicorn.Server(config).run()
