"""The one HTTP app factory: every service's API gets health, readiness, metrics and the same
machine-readable error body.

Errors always have the shape ``{"error": {"code": str, "message": str, "details": ...}}``; a bug
in a handler becomes a 500 with a request id, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from eip.observability.metrics import render
from eip.observability.redaction import redact_text

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
READINESS_TIMEOUT_S = 3.0


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


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def create_app(
    service: str,
    version: str,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    checks = dict(readiness or {})

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        if lifespan is None:
            yield
        else:
            async with lifespan(app):
                yield

    app = FastAPI(title=service, version=version, lifespan=_lifespan)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves requests. Says nothing about dependencies."""
        return {"status": "ok", "service": service, "version": version}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        """Readiness: every real dependency answered within the timeout."""
        results = await asyncio.gather(*(_run_check(fn) for fn in checks.values()))
        report = dict(zip(checks, results, strict=True))
        ready = all(r["ok"] for r in report.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": report},
            status_code=200 if ready else 503,
        )

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
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        return JSONResponse(error_body("invalid_request", "request is invalid", details), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
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

    return app


async def _run_check(check: ReadinessCheck) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), READINESS_TIMEOUT_S)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {READINESS_TIMEOUT_S}s"}
    except Exception as exc:  # a failing dependency is a result here, not an error
        return {"ok": False, "error": redact_text(f"{type(exc).__name__}: {exc}")}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


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
        ws_ping_interval=ws_ping_interval_s,
        ws_ping_timeout=ws_ping_timeout_s,
    )
    uvicorn.Server(config).run()
