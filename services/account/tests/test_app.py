"""The service in process (real Kafka and PostgreSQL, tokens from a test JWKS): the credential
lifecycle on auth.credentials.v1 connects, syncs and revokes; prices from md.tickers.v1 value
the balances; every route checks the token's account; charts are real PNG and SVG."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import SecretStr

from eip.account.app import build_app
from eip.account.runtime import AccountRuntime, Topics
from eip.account.settings import AccountSettings
from eip.account.store import ConnectionRecord
from eip.bus import Producer
from eip.events.topics import ACCOUNT_BALANCES, AUTH_CREDENTIALS, MD_TICKERS, ORDERS_EVENTS
from eip.events.v1 import auth_pb2, common_pb2, market_data_pb2, orders_pb2
from eip.exchanges.contract.trading import TradingAdapter
from eip.testing.tokens import TokenIssuer

from .helpers import eventually
from .scripted import ScriptedVenue

pytestmark = pytest.mark.integration


@dataclass
class Service:
    http: httpx.AsyncClient
    rt: AccountRuntime
    topics: Topics
    producer: Producer
    venues: dict[str, ScriptedVenue]
    issuer: TokenIssuer

    def headers(self, *accounts: str) -> dict[str, str]:
        return self.issuer.headers(["accounts:read"], accounts=accounts or ("acct-1",))

    async def credential(self, action: int, credential_id: str = "cred-1") -> None:
        event = auth_pb2.CredentialEvent(
            credential_id=credential_id,
            account_id="acct-1",
            exchange="venue",
            action=action,  # type: ignore[arg-type]
            permissions=["read", "trade"],
            status="active",
            version=1,
        )
        await self.producer.publish(self.topics.credentials, credential_id.encode(), event)

    async def ticker(self, symbol: str, price: str) -> None:
        now = Timestamp()
        now.FromDatetime(datetime.now(UTC))
        await self.producer.publish(
            self.topics.tickers,
            f"venue:{symbol}".encode(),
            market_data_pb2.Ticker(
                instrument=common_pb2.Instrument(exchange="venue", symbol=symbol),
                times=common_pb2.EventTimes(received_time=now),
                bid=price,
                ask=price,
                bid_size="1",
                ask_size="1",
            ),
        )

    async def connection(self, credential_id: str = "cred-1") -> ConnectionRecord | None:
        return await self.rt.store.connection(credential_id)


@pytest_asyncio.fixture
async def service(
    kafka_bootstrap_servers: str,
    database_url: str,
    db_schema: str,
    make_topic: Any,
    producer: Producer,
    token_issuer: TokenIssuer,
) -> AsyncIterator[Service]:
    topics = Topics(
        await make_topic(ACCOUNT_BALANCES),
        await make_topic(MD_TICKERS),
        await make_topic(AUTH_CREDENTIALS),
        await make_topic(ORDERS_EVENTS),
    )
    venues: dict[str, ScriptedVenue] = {}

    def adapters(rec: ConnectionRecord) -> TradingAdapter:
        venue = venues.setdefault(rec.credential_id, ScriptedVenue())
        venue.closed = False
        return venue

    settings = AccountSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=SecretStr(database_url),
        db_schema=db_schema,
        group_id=f"account-test-{uuid.uuid4().hex[:8]}",
        market_data_url="http://127.0.0.1:9",  # nothing listens: history prices are missing
        retry_base_delay_s=0.05,
        retry_max_delay_s=0.2,
        **token_issuer.settings(),
    )
    app = build_app(settings, adapters=adapters, topics=topics)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        )
        service = Service(http, app.state.account, topics, producer, venues, token_issuer)
        await asyncio.wait_for(service.rt.ready.wait(), 30)
        yield service


async def connected(service: Service) -> ScriptedVenue:
    await service.credential(auth_pb2.CREDENTIAL_ACTION_CREATED)
    await eventually(lambda: _live(service), timeout_s=60, what="connection live")
    return service.venues["cred-1"]


async def _live(service: Service) -> bool:
    rec = await service.connection()
    return rec is not None and rec.state.value == "live"


async def test_a_created_credential_is_connected_synced_and_valued_and_revocation_stops_it(
    service: Service,
) -> None:
    venue = ScriptedVenue()
    venue.set_balance("BTC", "2")
    venue.set_balance("SOL", "10")
    venue.set_balance("XYZ", "5")
    service.venues["cred-1"] = venue
    await connected(service)

    async def priced() -> bool:
        await service.ticker("BTC/USD", "50000")
        await service.ticker("SOL/BTC", "0.002")
        return service.rt.graph.pairs() >= 2

    await eventually(priced, what="prices from md.tickers.v1")
    answer = await service.http.get("/v1/accounts/acct-1/balances", headers=service.headers())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    values = {a["asset"]: a for a in body["consolidated"]}
    assert Decimal(values["BTC"]["value"]) == Decimal(100000)
    assert Decimal(values["SOL"]["value"]) == Decimal(1000)  # 10 x 0.002 x 50000
    assert values["SOL"]["route"]["kind"] == "bridge"
    assert values["XYZ"]["value"] is None
    assert values["XYZ"]["unvalued_reason"] == "no_price"
    assert Decimal(body["total_value"]) == Decimal(101000)
    assert body["unvalued"] == 1

    conns = await service.http.get("/v1/accounts/acct-1/connections", headers=service.headers())
    (conn,) = conns.json()["connections"]
    assert conn["status"] == "live"
    assert conn["permissions"] == ["read", "trade"]
    assert conn["last_balance_update"] is not None

    await service.credential(auth_pb2.CREDENTIAL_ACTION_REVOKED)

    async def revoked() -> bool:
        rec = await service.connection()
        return rec is not None and rec.state.value == "revoked"

    await eventually(revoked, what="revoked")
    assert venue.closed
    assert "cred-1" not in service.rt.manager.syncs
    after = await service.http.get("/v1/accounts/acct-1/balances", headers=service.headers())
    assert after.json()["consolidated"] == []


async def test_a_fill_on_orders_events_refreshes_that_venues_balances(service: Service) -> None:
    venue = ScriptedVenue()
    venue.set_balance("BTC", "1")
    service.venues["cred-1"] = venue
    await connected(service)
    venue.set_balance("BTC", "1.5")  # the venue changed; no push comes
    calls = venue.calls["fetch_balances"]

    async def refreshed() -> bool:
        event = orders_pb2.OrderEvent(
            order_id="o-1",
            account_id="acct-1",
            spec=orders_pb2.OrderSpec(
                instrument=common_pb2.Instrument(exchange="venue", symbol="BTC/USD")
            ),
            last_fill=orders_pb2.Fill(trade_id="t-1", price="1", quantity="0.5"),
        )
        await service.producer.publish(service.topics.order_events, b"o-1", event)
        await asyncio.sleep(0.3)
        rows = await service.rt.store.balances(["acct-1"])
        return venue.calls["fetch_balances"] > calls and rows[0].total == Decimal("1.5")

    await eventually(refreshed, what="refresh after a fill")


async def test_a_token_sees_only_its_own_accounts(service: Service) -> None:
    await connected(service)
    mine = await service.http.get("/v1/accounts", headers=service.headers("acct-1"))
    assert mine.json() == {"accounts": ["acct-1"]}
    other = service.headers("acct-2")
    assert (await service.http.get("/v1/accounts", headers=other)).json() == {"accounts": []}
    for path in (
        "/v1/accounts/acct-1/balances",
        "/v1/accounts/acct-1/connections",
        "/v1/accounts/acct-1/pnl",
        "/v1/accounts/acct-1/trades",
        "/v1/accounts/acct-1/charts/allocation.png",
    ):
        refused = await service.http.get(path, headers=other)
        assert refused.status_code == 403, path
        assert refused.json()["error"]["code"] == "forbidden"
    unknown = await service.http.get("/v1/accounts/acct-2/balances", headers=other)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_account"


async def test_trades_page_with_a_cursor_and_pnl_is_recomputed_from_them(service: Service) -> None:
    venue = ScriptedVenue()
    venue.fill(1, "buy", "100", "1")
    venue.fill(2, "buy", "200", "1")
    venue.fill(3, "sell", "300", "1")
    service.venues["cred-1"] = venue
    await connected(service)

    async def synced() -> bool:
        return len(await service.rt.store.fills(["acct-1"])) == 3

    await eventually(synced, what="fills")
    h = service.headers()
    first = await service.http.get("/v1/accounts/acct-1/trades", params={"limit": 2}, headers=h)
    page = first.json()
    assert [t["trade_id"] for t in page["trades"]] == ["1", "2"]
    assert page["trades"][0]["fee_asset"] == "BTC"
    rest = await service.http.get(
        "/v1/accounts/acct-1/trades", params={"cursor": page["next_cursor"]}, headers=h
    )
    assert [t["trade_id"] for t in rest.json()["trades"]] == ["3"]
    assert rest.json()["next_cursor"] is None
    bad = await service.http.get("/v1/accounts/acct-1/trades", params={"cursor": "x"}, headers=h)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_cursor"

    await service.ticker("BTC/USD", "300")
    await eventually(lambda: _has_price(service, "BTC/USD"), what="price", timeout_s=30)
    fifo = (await service.http.get("/v1/accounts/acct-1/pnl", headers=h)).json()
    avg = (
        await service.http.get("/v1/accounts/acct-1/pnl", params={"method": "average"}, headers=h)
    ).json()
    # a 0.001 BTC fee on each fill: the buys bring 0.999 each, the sale takes 1.001
    (inst,) = fifo["instruments"]
    assert Decimal(inst["quantity"]) == Decimal("0.997")
    assert Decimal(fifo["realized"]) > Decimal(avg["realized"])
    assert Decimal(fifo["total"]) == Decimal(avg["total"])
    assert fifo["fees"][0]["asset"] == "BTC"
    assert Decimal(fifo["fees"][0]["amount"]) == Decimal("0.003")


async def _has_price(service: Service, symbol: str) -> bool:
    if service.rt.graph.known_price("venue", symbol) is None:
        await service.ticker(symbol, "300")
        await asyncio.sleep(0.2)
    return service.rt.graph.known_price("venue", symbol) is not None


async def test_charts_are_png_and_svg_drawn_from_the_json_answers(service: Service) -> None:
    venue = ScriptedVenue()
    venue.set_balance("BTC", "1")
    venue.fill(1)
    service.venues["cred-1"] = venue
    await connected(service)
    h = service.headers()
    now = datetime.now(UTC)
    span = {"start": (now - timedelta(hours=2)).isoformat(), "end": now.isoformat()}
    for fmt, media, magic in (("png", "image/png", b"\x89PNG"), ("svg", "image/svg+xml", b"<?xml")):
        for path, params in (
            (f"/v1/accounts/acct-1/charts/value.{fmt}", {**span, "step": "15m"}),
            (f"/v1/accounts/acct-1/charts/allocation.{fmt}", {"by": "exchange"}),
            (
                f"/v1/accounts/acct-1/charts/trades.{fmt}",
                {**span, "exchange": "venue", "symbol": "BTC-USD"},
            ),
        ):
            answer = await service.http.get(path, params=params, headers=h)
            assert answer.status_code == 200, (path, answer.text[:300])
            assert answer.headers["content-type"].startswith(media)
            assert answer.content.startswith(magic)
    history = await service.http.get(
        "/v1/accounts/acct-1/portfolio/history", params={**span, "step": "15m"}, headers=h
    )
    points = history.json()["points"]
    assert len(points) == 9
    # the market-data service is not there: BTC is named unvalued, never valued at 0
    assert points[-1]["value"] is None
    assert points[-1]["unvalued_assets"] == ["BTC"]
    too_many = await service.http.get(
        "/v1/accounts/acct-1/portfolio/history",
        params={"start": "2020-01-01T00:00:00Z", "end": now.isoformat(), "step": "1m"},
        headers=h,
    )
    assert too_many.status_code == 422
    assert too_many.json()["error"]["code"] == "range_too_large"


async def test_routes_answer_503_until_postgresql_and_the_schema_are_there(
    token_issuer: TokenIssuer,
) -> None:
    app = build_app(AccountSettings(**token_issuer.settings()))  # not started: nothing open
    headers = token_issuer.headers(["accounts:read"], accounts=["acct-1"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        for path in ("/v1/accounts", "/v1/accounts/acct-1/balances", "/v1/accounts/acct-1/pnl"):
            answer = await http.get(path, headers=headers)
            assert answer.status_code == 503, path
            assert answer.json()["error"]["code"] == "database_unavailable"


async def test_a_rotation_reconnects_with_a_fresh_adapter_and_goes_live_again(
    service: Service,
) -> None:
    venue = ScriptedVenue()
    venue.set_balance("BTC", "1")
    service.venues["cred-1"] = venue
    await connected(service)
    before = service.rt.manager.syncs["cred-1"]
    await service.credential(auth_pb2.CREDENTIAL_ACTION_ROTATED)

    async def reconnected() -> bool:
        now = service.rt.manager.syncs.get("cred-1")
        return now is not None and now is not before and await _live(service)

    await eventually(reconnected, what="a new sync, live")
    assert not before.running  # the old sync was stopped before the new one started
    rows = await service.rt.store.balances(["acct-1"])
    assert [(r.asset, r.total) for r in rows] == [("BTC", Decimal(1))]
