from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from eip.automation import __version__
from eip.automation.api import arbitrage, router, webhooks_router
from eip.automation.runtime import Automation
from eip.automation.settings import AutomationSettings
from eip.automation.storage.rules import RuleStore
from eip.automation.topics import Topics, topics_of
from eip.runtime import Needs, service_app


def build_app(settings: AutomationSettings, topics: Topics | None = None) -> FastAPI:
    """The service's app; tests pass unique copies of the topics (``topics.unique_topics``)."""
    topics = topics or topics_of(settings)

    async def rules_ready() -> None:
        if not store.migrated:
            raise ConnectionError("rule storage not migrated yet")

    async def evaluation_ready() -> None:
        automation.check_ready()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(automation.run(), name="automation")
        try:
            yield
        finally:
            automation.stop()  # consumers finish the record in hand, commit and close
            with contextlib.suppress(Exception):  # still busy after 15 s: cancelled below
                await asyncio.wait_for(asyncio.shield(task), 15)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await automation.aclose()

    app = service_app(
        settings,
        __version__,
        Needs(kafka=True, database=True),
        readiness={"rules": rules_ready, "evaluation": evaluation_ready},
        lifespan=lifespan,
    )
    deps = app.state.deps
    store = RuleStore(
        lambda: deps.db,
        settings.db_schema,
        settings.audit_schema,
        lambda: deps.producer,
        commands_topic=topics.commands,
        rules_topic=topics.rules,
        audit_topic=topics.audit,
        max_consecutive_errors=settings.max_consecutive_errors,
        lock_timeout_s=settings.firing_lock_timeout_s,
    )
    automation = Automation(settings, store, lambda: deps.producer, lambda: deps.db, topics)
    app.state.rules = store
    app.state.automation = automation
    app.include_router(router)
    app.include_router(arbitrage)
    app.include_router(webhooks_router)
    return app
