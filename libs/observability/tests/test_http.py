from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Query

from eip.observability.http import ApiError, create_app


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
