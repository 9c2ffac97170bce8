"""An opportunity's lifetime in PostgreSQL and on alerts.arbitrage.v1: opened, updated with its
peak, closed once gone; the spread chart's points over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from eip.automation.arbitrage import ArbitrageTracker
from eip.automation.books import BookFollower
from eip.bus import Record
from eip.events.v1 import automation_pb2, common_pb2, order_book_pb2
from eip.testing.tokens import TokenIssuer

from .conftest import Starter, read_all

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def book(exchange: str, epoch: int, bid: str, ask: str, size: str = "1.0") -> Record:
    message = order_book_pb2.BookSnapshot(
        instrument=common_pb2.Instrument(exchange=exchange, symbol="BTC/USDT"),
        epoch=epoch,
        depth=10,
        price_decimals=1,
        size_decimals=1,
        bids=[common_pb2.PriceLevel(price=bid, quantity=size)],
        asks=[common_pb2.PriceLevel(price=ask, quantity=size)],
    )
    return Record("t", 0, 0, None, message, [], 0)


async def test_an_opportunity_opens_peaks_and_closes_and_the_spread_is_charted(
    start_service: Starter, token_issuer: TokenIssuer
) -> None:
    service = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    books = BookFollower(stale_after_s=3600)
    tracker = ArbitrageTracker(
        books,
        lambda venue: Decimal(0),
        lambda: service.app.state.deps.db,
        service.settings.db_schema,
        lambda: service.app.state.deps.producer,
        service.topics.arbitrage,
        close_after_s=5,
    )
    books.handle(book("binance", 1, "99.0", "100.0"))
    books.handle(book("kraken", 1, "101.0", "102.0"))
    (opened,) = await tracker.evaluate("BTC/USDT", T0)
    assert (opened.walk.size, opened.walk.net_profit) == (Decimal(1), Decimal(1))
    books.handle(book("kraken", 2, "103.0", "104.0", "2.0"))
    (grown,) = await tracker.evaluate("BTC/USDT", T0 + timedelta(seconds=1))
    assert grown.opportunity_id == opened.opportunity_id
    books.handle(book("kraken", 3, "100.5", "104.0"))
    (shrunk,) = await tracker.evaluate("BTC/USDT", T0 + timedelta(seconds=2))
    assert (shrunk.peak_size, shrunk.peak_net_profit) == (Decimal(1), Decimal(3))
    assert shrunk.walk.net_profit == Decimal("0.5")
    books.handle(book("kraken", 4, "99.5", "104.0"))
    assert await tracker.evaluate("BTC/USDT", T0 + timedelta(seconds=3)) == []
    assert await tracker.sweep(T0 + timedelta(seconds=4)) == []  # not gone long enough
    (closed,) = await tracker.sweep(T0 + timedelta(seconds=8))
    assert closed.closed

    headers = token_issuer.headers(["alerts:read"])
    listed = await service.http.get("/v1/arbitrage/opportunities", headers=headers)
    (row,) = listed.json()["opportunities"]
    assert row["opportunity_id"] == opened.opportunity_id
    assert (row["first_seen"], row["last_seen"]) == (
        T0.isoformat().replace("+00:00", "Z"),
        (T0 + timedelta(seconds=2)).isoformat().replace("+00:00", "Z"),
    )
    assert row["closed_at"] is not None
    assert (Decimal(row["peak_net_profit"]), Decimal(row["peak_size"])) == (Decimal(3), Decimal(1))
    still_open = await service.http.get(
        "/v1/arbitrage/opportunities", params={"open": "true"}, headers=headers
    )
    assert still_open.json()["opportunities"] == []

    chart = await service.http.get(
        "/v1/arbitrage/spreads",
        params={
            "symbol": "BTC/USDT",
            "buy_exchange": "binance",
            "sell_exchange": "kraken",
            "since": (T0 - timedelta(minutes=1)).isoformat(),
        },
        headers=headers,
    )
    assert chart.status_code == 200, chart.text
    points = [(p["at"], Decimal(p["spread_bps"])) for p in chart.json()["points"]]
    assert [bps for _, bps in points] == [Decimal(100), Decimal(300), Decimal(50), Decimal(-50)]
    no_scope = token_issuer.headers(["rules:read"])
    assert (
        await service.http.get("/v1/arbitrage/opportunities", headers=no_scope)
    ).status_code == 403

    published = [
        m
        for m in await read_all(service.settings.kafka_bootstrap_servers, service.topics.arbitrage)
        if isinstance(m, automation_pb2.ArbitrageOpportunity)
    ]
    assert [(m.net_profit, m.closed) for m in published] == [
        ("1.00", False),
        ("3.00", False),
        ("0.50", False),
        ("0.50", True),
    ]


async def test_the_next_holder_of_a_symbol_continues_its_open_lifetime(
    start_service: Starter, token_issuer: TokenIssuer
) -> None:
    service = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    books = BookFollower(stale_after_s=3600)
    books.handle(book("binance", 1, "99.0", "100.0"))
    books.handle(book("kraken", 1, "101.0", "102.0"))

    def tracker() -> ArbitrageTracker:
        return ArbitrageTracker(
            books,
            lambda venue: Decimal(0),
            lambda: service.app.state.deps.db,
            service.settings.db_schema,
            lambda: service.app.state.deps.producer,
            service.topics.arbitrage,
        )

    first = tracker()
    (opened,) = await first.evaluate("BTC/USDT", T0)
    first.forget(lambda symbol: symbol == "BTC/USDT")  # handed over at a rebalance
    assert first.open == {}
    second = tracker()
    assert await second.restore(lambda symbol: symbol == "ETH/USDT") == 0
    assert await second.restore(lambda symbol: symbol == "BTC/USDT") == 1
    assert [o.opportunity_id for o in second.open.values()] == [opened.opportunity_id]
    books.handle(book("kraken", 2, "103.0", "104.0"))
    (grown,) = await second.evaluate("BTC/USDT", T0 + timedelta(seconds=1))
    assert grown.opportunity_id == opened.opportunity_id
    assert grown.first_seen == T0
    listed = await service.http.get(
        "/v1/arbitrage/opportunities", headers=token_issuer.headers(["alerts:read"])
    )
    assert [o["opportunity_id"] for o in listed.json()["opportunities"]] == [opened.opportunity_id]
