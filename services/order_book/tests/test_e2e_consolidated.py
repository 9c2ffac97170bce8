"""End to end across venues: the simulator serves the same BTC/USDT book as Binance, Kraken and
Coinbase; the service follows all three and consolidates them."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS
from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.contract.book_events import BookKey
from eip.order_book.app import build_app
from eip.order_book.service import OrderBookService
from eip.order_book.settings import OrderBookSettings
from eip.testing.plugin import TopicFactory
from eip.testing.tokens import TokenIssuer

pytestmark = pytest.mark.integration

VENUES = ("binance", "coinbase", "kraken")
DEPTH = 5


async def test_consolidated_book_of_three_venues_attributes_each_level(
    simulator: SimulatorClient,
    kafka_bootstrap_servers: str,
    make_topic: TopicFactory,
    database_url: str,
    db_schema: str,
    token_issuer: TokenIssuer,
) -> None:
    settings = OrderBookSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=SecretStr(database_url),
        subscriptions_schema=db_schema,
        subscriptions={venue: ["BTC/USDT"] for venue in VENUES},
        exchange_urls={venue: simulator.base_url for venue in VENUES},
        **token_issuer.settings(),
    )
    app = build_app(
        settings,
        deltas_topic=await make_topic(MD_BOOK_DELTAS),
        snapshots_topic=await make_topic(MD_BOOK_SNAPSHOTS),
    )
    service: OrderBookService = app.state.books
    async with app.router.lifespan_context(app):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [service.manager.get(BookKey(v, "BTC/USDT")) for v in VENUES]
            if all(s is not None and s.in_sync and s.deltas > 0 for s in states):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"not every venue synced: {service.manager.states()}")
        await simulator.pause_market()
        try:
            await asyncio.sleep(1.5)  # in-flight updates of every venue arrive
            truth = await simulator.book("BTCUSDT", limit=DEPTH)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", headers=token_issuer.headers()
            ) as client:
                r = await client.get("/v1/consolidated/BTC-USDT", params={"depth": DEPTH})
        finally:
            await simulator.resume_market()
    assert r.status_code == 200
    body = r.json()
    assert sorted(v["exchange"] for v in body["exchanges"] if v["included"]) == list(VENUES)
    assert body["crossed"] is False
    for side in ("bids", "asks"):
        expected = [(Decimal(p), Decimal(q)) for p, q in truth[side]]
        got = body[side]
        assert [Decimal(level["price"]) for level in got] == [p for p, _ in expected]
        for level, (_, size) in zip(got, expected, strict=True):
            assert sorted(level["venues"]) == list(VENUES)
            assert all(Decimal(v) == size for v in level["venues"].values())
            assert Decimal(level["size"]) == 3 * size
