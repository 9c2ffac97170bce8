"""History HTTP API over a real PostgreSQL schema: data with provenance and freshness, backfill
jobs driven by the service's own worker, and clear 4xx bodies for bad parameters."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eip.exchanges.contract.errors import UnknownExchange
from eip.exchanges.contract.market_data import MarketDataAdapter, Ohlcv, Timeframe, Trade
from eip.market_data.api.history import history_router
from eip.market_data.history import HistoryService
from eip.market_data.settings import MarketDataSettings
from eip.observability.http import create_app
from eip.testing.tokens import TokenIssuer
from eip.tokens import TokenVerifier

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T0 = NOW - timedelta(hours=3)


class CandleVenue:
    exchange = "memvenue"

    async def load_markets(self) -> list[str]:
        return ["BTC/USDT", "ETH/USDT"]

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: Timeframe,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Ohlcv]:
        start = since or T0
        return [
            Ohlcv(
                "memvenue",
                symbol,
                "1m",
                start + timedelta(minutes=m),
                Decimal(1),
                Decimal(2),
                Decimal("0.5"),
                Decimal("1.5"),
                Decimal(3),
                None,
                None,
            )
            for m in range(limit or 10)
            if start + timedelta(minutes=m + 1) <= NOW
        ]


@pytest.fixture
async def api(
    db_pool: AsyncConnectionPool[AsyncConnection], db_schema: str, token_issuer: TokenIssuer
) -> AsyncIterator[tuple[httpx.AsyncClient, HistoryService]]:
    settings = MarketDataSettings(
        history_schema=db_schema, history_max_trades_range_days=1, history_backfill_page_limit=60
    )

    async def adapter_for(exchange: str) -> MarketDataAdapter:
        if exchange != "memvenue":
            raise UnknownExchange(f"no adapter for exchange {exchange!r}")
        return CandleVenue()  # type: ignore[return-value]  # history only

    service = HistoryService(settings, lambda: db_pool, adapter_for, clock=lambda: NOW)
    app = create_app("market-data", "test")
    app.state.token_verifier = TokenVerifier(
        token_issuer.jwks_url, issuer=token_issuer.issuer, audience=token_issuer.audience
    )
    app.include_router(history_router(lambda: service))
    task = asyncio.create_task(service.supervise())
    await asyncio.wait_for(service.ready.wait(), 10)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://md",
        headers=token_issuer.headers(["market:read", "market:admin"]),
    ) as client:
        yield client, service
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_trades_pages_with_a_cursor_and_says_how_fresh(
    api: tuple[httpx.AsyncClient, HistoryService],
) -> None:
    client, service = api
    assert service.store is not None
    trades = [
        Trade(
            "binance",
            "BTC/USDT",
            str(i),
            Decimal("64000.10"),
            Decimal("0.25"),
            "buy",
            T0 + timedelta(seconds=i),
            T0 + timedelta(seconds=i, milliseconds=7),
        )
        for i in range(25)
    ]
    await service.store.insert_trades(trades)
    params: dict[str, Any] = {
        "exchange": "binance",
        "symbol": "BTC-USDT",
        "start": iso(T0),
        "end": iso(NOW),
        "limit": 10,
    }
    seen: list[str] = []
    body: dict[str, Any] = {}
    while True:
        response = await client.get("/v1/trades", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [t["trade_id"] for t in body["trades"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == [str(i) for i in range(25)]
    assert body["trades"][-1]["price"] == "64000.10"
    assert body["symbol"] == "BTC/USDT"
    newest = T0 + timedelta(seconds=24)
    assert body["freshness"]["newest_exchange_time"] == iso(newest)
    assert body["freshness"]["age_s"] == (NOW - newest).total_seconds()


async def test_backfill_job_runs_in_the_service_and_candles_roll_up(
    api: tuple[httpx.AsyncClient, HistoryService],
) -> None:
    client, _ = api
    created = await client.post(
        "/v1/backfill",
        json={
            "exchange": "memvenue",
            "symbol": "ETH/USDT",
            "kind": "ohlcv",
            "timeframe": "1m",
            "start": iso(T0),
            "end": iso(NOW + timedelta(days=1)),
        },
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["end"] == iso(NOW)  # capped at now
    for _ in range(200):
        job = (await client.get(f"/v1/backfill/{job['id']}")).json()
        if job["status"] == "done":
            break
        await asyncio.sleep(0.05)
    assert (job["status"], job["percent"], job["rows_inserted"], job["gaps"]) == (
        "done",
        100.0,
        180,
        0,
    )
    listed = (await client.get("/v1/backfill", params={"status": "done"})).json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]

    response = await client.get(
        "/v1/candles",
        params={
            "exchange": "memvenue",
            "symbol": "ETH/USDT",
            "timeframe": "1h",
            "start": iso(T0),
            "end": iso(NOW),
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["source"], body["complete"], body["expected"]) == ("rollup", True, 3)
    assert [c["base_volume"] for c in body["candles"]] == ["180", "180", "180"]
    assert body["freshness"]["newest_received_time"] is not None

    repair = await client.post(f"/v1/backfill/{job['id']}/repair")
    assert repair.json() == {"job_id": job["id"], "gaps": [], "repair_jobs": []}
    cancel = await client.post(f"/v1/backfill/{job['id']}/cancel")
    assert cancel.status_code == 409
    assert cancel.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("path", "params", "code", "words"),
    [
        ("/v1/candles", {"timeframe": "7m"}, "invalid_request", "timeframe"),
        (
            "/v1/candles",
            {"timeframe": "1m", "start": "2026-11-26T12:00:00Z", "end": "2026-11-26T11:00:00Z"},
            "invalid_request",
            "start must be before end",
        ),
        (
            "/v1/candles",
            {"timeframe": "1m", "start": "2026-01-01T00:00:00Z"},
            "range_too_large",
            "at most",
        ),
        ("/v1/trades", {"limit": "0"}, "invalid_request", "limit"),
        ("/v1/trades", {"limit": "1001"}, "invalid_request", "limit"),
        ("/v1/trades", {"start": "2026-11-20T00:00:00Z"}, "range_too_large", "at most"),
        ("/v1/trades", {"start": "2026-11-26T10:00:00"}, "invalid_request", "timezone"),
        ("/v1/trades", {"start": "5908"}, "invalid_request", "ISO 8601"),
        ("/v1/candles", {"end": "1700000000", "timeframe": "1m"}, "invalid_request", "ISO 8601"),
        ("/v1/trades", {"cursor": "bm90LWEtY3Vyc29y"}, "invalid_request", "cursor"),
        ("/v1/trades", {"symbol": "BTCUSDT"}, "invalid_request", "BASE/QUOTE"),
        ("/v1/gaps", {"kind": "ohlcv"}, "invalid_request", "timeframe"),
    ],
)
async def test_bad_parameters_get_a_clear_422(
    api: tuple[httpx.AsyncClient, HistoryService],
    path: str,
    params: dict[str, str],
    code: str,
    words: str,
) -> None:
    client, _ = api
    query = {
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "kind": "trades",
        "start": "2026-11-26T10:00:00Z",
        "end": "2026-11-26T12:00:00Z",
        **params,
    }
    response = await client.get(path, params=query)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert words in response.text


async def test_backfill_requests_are_checked_before_anything_is_queued(
    api: tuple[httpx.AsyncClient, HistoryService],
) -> None:
    client, _ = api
    base = {"exchange": "memvenue", "symbol": "ETH/USDT", "start": iso(T0), "end": iso(NOW)}
    for body, words in [
        ({**base, "kind": "ohlcv"}, "timeframe"),
        ({**base, "kind": "trades", "timeframe": "1m"}, "timeframe"),
        ({**base, "kind": "candles"}, "kind"),
        ({**base, "kind": "trades", "start": iso(NOW), "end": iso(T0)}, "start must be before end"),
        ({**base, "kind": "trades", "exchange": "nosuchvenue"}, "unknown_exchange"),
        ({**base, "kind": "trades", "symbol": "NOPE/USDT"}, "unknown_symbol"),
        ({**base, "kind": "trades", "symbol": "0/0"}, "unknown_symbol"),
        ({**base, "kind": "trades", "start": "5908"}, "ISO 8601"),
        ({**base, "kind": "trades", "symbol": "ETH/\u0000USDT"}, "NUL"),
    ]:
        response = await client.post("/v1/backfill", json=body)
        assert response.status_code == 422, response.text
        assert words in response.text
    assert (await client.get("/v1/backfill")).json() == {"jobs": []}
    assert (await client.get("/v1/backfill/999")).status_code == 404


async def test_the_service_resumes_a_job_its_crashed_predecessor_held(
    api: tuple[httpx.AsyncClient, HistoryService],
) -> None:
    client, service = api
    assert service.store is not None
    # a previous instance claimed the job, stored nothing and died: its lease runs out
    job = await service.store.create_job("memvenue", "ETH/USDT", "ohlcv", "1m", T0, NOW)
    claimed = await service.store.claim_job(timedelta(milliseconds=1), "worker-dead")
    assert claimed is not None
    assert claimed.id == job.id
    body: dict[str, Any] = {}
    for _ in range(200):
        body = (await client.get(f"/v1/backfill/{job.id}")).json()
        if body["status"] == "done":
            break
        await asyncio.sleep(0.05)
    assert (body["status"], body["rows_inserted"], body["gaps"]) == ("done", 180, 0)


async def test_gaps_report_and_repair_over_http(
    api: tuple[httpx.AsyncClient, HistoryService],
) -> None:
    client, service = api
    assert service.store is not None
    job = await service.store.create_job("memvenue", "ETH/USDT", "ohlcv", "1m", T0, NOW)
    body: dict[str, Any] = {}
    for _ in range(200):
        body = (await client.get(f"/v1/backfill/{job.id}")).json()
        if body["status"] == "done":
            break
        await asyncio.sleep(0.05)
    assert body["status"] == "done"
    hole = (T0 + timedelta(minutes=30), T0 + timedelta(minutes=33))
    async with service.store.pool.connection() as conn:
        await conn.execute(
            f'DELETE FROM "{service.store.schema}".candles'
            " WHERE open_time >= %s AND open_time < %s",
            hole,
        )
    query = {
        "exchange": "memvenue",
        "symbol": "ETH-USDT",
        "kind": "ohlcv",
        "timeframe": "1m",
        "start": iso(T0),
        "end": iso(NOW),
    }
    report = (await client.get("/v1/gaps", params=query)).json()
    assert report["method"] == "candle_open_times"
    assert [(g["start"], g["end"]) for g in report["gaps"]] == [(iso(hole[0]), iso(hole[1]))]

    repair = (await client.post(f"/v1/backfill/{job.id}/repair")).json()
    assert [j["parent_id"] for j in repair["repair_jobs"]] == [job.id]
    child = repair["repair_jobs"][0]["id"]
    for _ in range(200):
        body = (await client.get(f"/v1/backfill/{child}")).json()
        if body["status"] == "done":
            break
        await asyncio.sleep(0.05)
    assert (body["status"], body["rows_inserted"]) == ("done", 3)
    assert (await client.get("/v1/gaps", params=query)).json()["gaps"] == []
