import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Query

from eip.observability.http import ApiError, NotReady, create_app


async def _ok() -> None:
    return None


async def _broken() -> None:
    raise ConnectionError("db down at postgresql://u:topsecret@h/db")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app("demo", "1.2.3", readiness={"db": _broken, "kafka": _ok})

    @app.get("/v1/things/{thing_id}")
    async def get_thing(thing_id: int, limit: int = Query(10, ge=1, le=100)) -> dict[str, int]:
        if thing_id == 404:
            raise ApiError(404, "thing_not_found", "no such thing", {"thing_id": thing_id})
        if thing_id == 500:
            raise RuntimeError("bug with secret=abc123abc123")
        return {"id": thing_id, "limit": limit}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c
    await app.state.readiness.stop()  # no lifespan here: /readyz started the checks


async def test_health_and_metrics(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.json() == {"status": "ok", "service": "demo", "version": "1.2.3"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "python_info" in metrics.text


async def test_readiness_reports_each_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["kafka"]["ok"] is True
    assert body["checks"]["db"]["ok"] is False
    assert "ConnectionError" in body["checks"]["db"]["error"]
    assert "topsecret" not in response.text


async def test_errors_are_machine_readable(client: httpx.AsyncClient) -> None:
    bad = await client.get("/v1/things/abc", params={"limit": 0})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_request"
    fields = {d["field"] for d in bad.json()["error"]["details"]}
    assert fields == {"path.thing_id", "query.limit"}

    missing = await client.get("/v1/things/404")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "code": "thing_not_found",
            "message": "no such thing",
            "details": {"thing_id": 404},
        },
    }

    unknown = await client.get("/nowhere")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


async def test_unexpected_error_is_a_500_without_traceback(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/things/500")
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["code"] == "internal_error"
    assert len(body["error"]["details"]["request_id"]) == 32
    assert "Traceback" not in response.text
    assert "abc123" not in response.text


async def test_readiness_answers_at_once_from_the_last_results_whatever_a_dependency_does() -> None:
    """A dependency that hangs (a database behind a dead network) never holds /readyz up:
    the checks run in the background and the probe gets their last results and ages."""
    state = {"db_up": True}
    hang = asyncio.Event()

    async def db() -> None:
        if not state["db_up"]:
            raise ConnectionError("refused")

    async def kafka() -> None:
        await hang.wait()  # never answers

    app = create_app("demo", "1", readiness={"db": db, "kafka": kafka})
    monitor = app.state.readiness
    monitor.interval_s, monitor.timeout_s = 0.1, 0.5
    transport = httpx.ASGITransport(app=app)
    timings: list[float] = []
    bodies: list[dict[str, Any]] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for step in range(20):
            if step == 10:
                state["db_up"] = False
            started = time.perf_counter()
            response = await client.get("/readyz")
            timings.append(time.perf_counter() - started)
            assert response.status_code == 503  # kafka never answers
            bodies.append(response.json())
            await asyncio.sleep(0.1)
    await monitor.stop()
    assert max(timings) < 1.0, timings
    last = bodies[-1]["checks"]
    assert last["kafka"] == {
        "ok": False,
        "error": "no answer within 0.5s",
        "checked_at": last["kafka"]["checked_at"],
        "age_s": last["kafka"]["age_s"],
    }
    assert last["db"]["ok"] is False
    assert last["db"]["error"] == "ConnectionError: refused"
    assert 0 <= last["db"]["age_s"] < 1.5
    assert bodies[-1]["age_s"] == max(c["age_s"] for c in last.values())
    # before the outage the same check was fine, and said when it was checked
    assert any(b["checks"]["db"]["ok"] for b in bodies[:10])
    assert all(b["checks"]["db"]["checked_at"].endswith("+00:00") for b in bodies[1:])


async def test_a_check_that_is_not_ready_reports_its_reason_code_and_details() -> None:
    async def evaluation() -> None:
        raise NotReady("awaiting_assignment", "holds nothing yet", {"group": "g"})

    app = create_app("demo", "1", readiness={"evaluation": evaluation})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/readyz")
    await app.state.readiness.stop()
    assert response.status_code == 503
    check = response.json()["checks"]["evaluation"]
    assert check["ok"] is False
    assert check["reason"] == "awaiting_assignment"
    assert check["error"] == "holds nothing yet"
    assert check["details"] == {"group": "g"}
