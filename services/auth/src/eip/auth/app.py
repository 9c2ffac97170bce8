from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg import OperationalError
from psycopg_pool import PoolTimeout

from eip.auth import __version__
from eip.auth.api import build_router
from eip.auth.runtime import AuthRuntime, LocalVerifier
from eip.auth.settings import AuthSettings
from eip.auth.validators import build_validators
from eip.observability.http import create_app, error_body
from eip.observability.redaction import register_secret
from eip.runtime import Dependencies, Needs
from eip.vault import VaultError, VaultUnavailable


def build_app(settings: AuthSettings) -> FastAPI:
    deps = Dependencies(settings, Needs(kafka=True, database=True, vault=True))
    register_secret(settings.bootstrap_client_secret.get_secret_value())
    rt = AuthRuntime(settings, deps, build_validators(settings))

    async def auth_ready() -> None:
        if not rt.ready.is_set():
            raise ConnectionError(rt.last_error or "starting")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with deps.lifespan(app):
            tasks = [
                asyncio.create_task(rt.initialize()),
                asyncio.create_task(rt.expiry_loop()),
                asyncio.create_task(rt.audit_relay_loop()),
                asyncio.create_task(rt.token_renewal_loop()),
                asyncio.create_task(rt.failure_cleanup_loop()),
                asyncio.create_task(rt.sign_audit_loop()),
                asyncio.create_task(rt.changes.supervise()),
            ]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                # Requests have ended (the server stops them first); the database is still open.
                await rt.close()
                for validator in rt.validators.values():
                    await validator.aclose()

    app = create_app(
        settings.service_name,
        __version__,
        readiness={**deps.readiness(), "auth": auth_ready},
        lifespan=lifespan,
    )
    app.state.deps = deps
    app.state.auth = rt
    app.state.token_verifier = LocalVerifier(rt)
    app.include_router(build_router())

    @app.exception_handler(VaultUnavailable)
    @app.exception_handler(VaultError)
    async def _vault(_: Request, exc: Exception) -> JSONResponse:
        # Vault's error text names paths; none of it helps a caller, so none of it is sent.
        return JSONResponse(
            error_body("vault_unavailable", "the secret store is unavailable; nothing changed"),
            503,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body("database_unavailable", "the metadata store is unavailable"), 503
        )

    return app
