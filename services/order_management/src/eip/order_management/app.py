"""The order-management service's app: the standard service shell with the order API, the
runtime started after the dependencies and stopped before them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from eip.order_management import __version__
from eip.order_management.api import build_router
from eip.order_management.market import TokenSource
from eip.order_management.runtime import OrderManagementRuntime, Topics
from eip.order_management.settings import OrderManagementSettings
from eip.order_management.venue_access import auth_adapters
from eip.order_management.venues import AdapterFactory, BalanceSource
from eip.runtime import Needs, service_app


def build_app(
    settings: OrderManagementSettings,
    *,
    adapters: AdapterFactory | None = None,
    topics: Topics | None = None,
    books_token: TokenSource | None = None,
    balances: BalanceSource | None = None,
) -> FastAPI:
    """The service's app; tests pass their own topics, or an adapter factory and a token for
    the order-book service that do not go through an auth service."""
    runtime: OrderManagementRuntime | None = None

    async def schema_ready() -> None:
        # ready for requests only once its schema is migrated and the risk state read
        if runtime is None or not runtime.ready.is_set():
            raise RuntimeError("the order-management schema is not migrated yet")

    app = service_app(
        settings,
        __version__,
        Needs(kafka=True, database=True),
        readiness={"order_management": schema_ready},
    )
    access = None
    if adapters is None:
        access = auth_adapters(settings)
        adapters = access.factory
        books_token = books_token or access.token
    runtime = OrderManagementRuntime(
        settings,
        app.state.deps,
        adapters=adapters,
        topics=topics,
        books_token=books_token,
        balances=balances,
    )
    app.state.runtime = runtime
    app.include_router(build_router())
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(a), runtime.running():
            try:
                yield
            finally:
                if access is not None:
                    await access.aclose()

    app.router.lifespan_context = lifespan
    return app
