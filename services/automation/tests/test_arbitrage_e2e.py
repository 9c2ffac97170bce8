"""End to end: two simulators, one followed as Binance and one as Kraken (the same engine
would show one book in both dialects), books from the order-book service over Kafka, the
automation service's opportunity checked against a walk computed by hand from the
simulators' own books.

The prices are pushed apart on the "Kraken" simulator: with both markets paused (admin API),
an account of that simulator buys up through the asks to 0.6 % above Binance's best ask and
rests what is left there, plus a second bid two ticks below. Binance's asks under those bids
(net of both taker fees) are then worth buying there and selling on Kraken.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from eip.events.v1 import automation_pb2
from eip.exchange_simulator.client import SimulatorClient
from eip.order_book.app import build_app as order_book_app
from eip.order_book.settings import OrderBookSettings
from eip.testing.simulator import SimulatorProcess, run_simulator
from eip.testing.tokens import TokenIssuer

from .conftest import Starter, read_all, until

pytestmark = pytest.mark.integration

D = Decimal
FEES = {"binance": D("0.001"), "kraken": D("0.0026")}
SYMBOL = "BTC/USDT"


@pytest.fixture(scope="module")
def kraken_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    with run_simulator(tmp_path_factory.mktemp("kraken-simulator")) as process:
        yield process


@pytest_asyncio.fixture
async def kraken_venue(kraken_process: SimulatorProcess) -> AsyncIterator[SimulatorClient]:
    client = SimulatorClient(kraken_process.base_url)
    yield client
    await client.resume_market()
    await client.aclose()


def hand_walk(
    asks: list[tuple[Decimal, Decimal]], bids: list[tuple[Decimal, Decimal]]
) -> tuple[Decimal, Decimal]:
    """(size, net profit): cut both books at every cumulative size where either side changes
    level, and keep each slice whose sale after Kraken's fee beats its purchase after
    Binance's."""
    cuts = sorted({q for book in (asks, bids) for q in _cumulative(book)} | {D(0)})
    size = profit = D(0)
    for low, high in itertools.pairwise(cuts):
        ask, bid = _price_at(asks, low), _price_at(bids, low)
        if ask is None or bid is None:
            break
        buy, sell = ask * (1 + FEES["binance"]), bid * (1 - FEES["kraken"])
        if sell <= buy:
            break
        slice_ = high - low
        size += slice_
        profit += (
            slice_ * bid
            - slice_ * ask
            - slice_ * ask * FEES["binance"]
            - (slice_ * bid * FEES["kraken"])
        )
    return size, profit


def _cumulative(book: list[tuple[Decimal, Decimal]]) -> list[Decimal]:
    total, out = D(0), []
    for _, q in book:
        total += q
        out.append(total)
    return out


def _price_at(book: list[tuple[Decimal, Decimal]], filled: Decimal) -> Decimal | None:
    total = D(0)
    for price, q in book:
        total += q
        if filled < total:
            return price
    return None


def levels(side: list[list[str]]) -> list[tuple[Decimal, Decimal]]:
    return [(D(p), D(q)) for p, q in side]


async def test_two_venues_pushed_apart_show_the_hand_computed_opportunity(
    simulator: SimulatorClient,
    kraken_venue: SimulatorClient,
    start_service: Starter,
    kafka_bootstrap_servers: str,
    database_url: str,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    token_issuer: TokenIssuer,
) -> None:
    binance = simulator
    service = await start_service(
        evaluation_enabled=False, taker_fees=FEES, arbitrage_close_after_s=120
    )
    books_app = order_book_app(
        OrderBookSettings(
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            database_url=SecretStr(database_url),
            subscriptions_schema=f"{db_schema}_ob",
            subscriptions={"binance": [SYMBOL], "kraken": [SYMBOL]},
            exchange_urls={"binance": binance.base_url, "kraken": kraken_venue.base_url},
            **token_issuer.settings(),
        ),
        deltas_topic=service.topics.book_deltas,
        snapshots_topic=service.topics.book_snapshots,
    )
    follower = service.automation.books
    try:
        async with books_app.router.lifespan_context(books_app):
            await until(
                lambda: all(follower.state(v, SYMBOL) == "usable" for v in FEES),
                90,
                "both books usable in the automation service",
            )
            await binance.pause_market()
            await kraken_venue.pause_market()
            await asyncio.sleep(1.5)  # the last generated updates arrive
            truth_binance = await binance.book("BTCUSDT", limit=1000)
            before = await kraken_venue.book("BTCUSDT", limit=1000)
            best_ask = D(truth_binance["asks"][0][0])
            top = (best_ask * D("1.006")).quantize(D("0.01"))
            swept = sum((q for p, q in levels(before["asks"]) if p <= top), D(0))
            await push_apart(kraken_venue, top, swept + D("0.5"), top - D("0.02"), D("0.4"))
            truth_kraken = await kraken_venue.book("BTCUSDT", limit=1000)
            assert D(truth_kraken["bids"][0][0]) == top
            size, profit = hand_walk(levels(truth_binance["asks"]), levels(truth_kraken["bids"]))
            assert size > 0
            assert profit > 0

            found: dict[str, Any] = {}

            async def opportunity() -> bool:
                answer = await service.http.get(
                    "/v1/arbitrage/opportunities",
                    params={"symbol": SYMBOL, "open": "true"},
                    headers=token_issuer.headers(["alerts:read"]),
                )
                assert answer.status_code == 200, answer.text
                for o in answer.json()["opportunities"]:
                    if (o["buy"]["exchange"], o["sell"]["exchange"]) == ("binance", "kraken"):
                        found.update(o)
                        return D(o["size"]) == size and D(o["net_profit"]) == profit
                return False

            deadline = time.monotonic() + 60
            while not await opportunity():
                assert time.monotonic() < deadline, (
                    f"expected size {size} profit {profit}, last seen {found}"
                )
                await asyncio.sleep(0.3)
    finally:
        await binance.resume_market()
        async with db_pool.connection() as conn:
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(f"{db_schema}_ob")
                )
            )
    assert D(found["buy"]["best_price"]) == best_ask
    assert D(found["sell"]["best_price"]) == top
    assert D(found["peak_net_profit"]) >= profit
    assert found["first_seen"] <= found["last_seen"]
    published = [
        m
        for m in await read_all(kafka_bootstrap_servers, service.topics.arbitrage)
        if isinstance(m, automation_pb2.ArbitrageOpportunity)
        and m.opportunity_id == found["opportunity_id"]
    ]
    assert published
    assert (D(published[-1].size), D(published[-1].net_profit)) == (size, profit)
    assert not published[-1].closed


async def push_apart(
    venue: SimulatorClient, top: Decimal, quantity: Decimal, second: Decimal, second_qty: Decimal
) -> None:
    """Buy up to ``top`` (what is not filled rests there), then bid ``second``."""
    credentials = await venue.create_account_with_key(
        "arbitrage-pusher", {"USDT": "100000000", "BTC": "0"}
    )
    exchange = venue.ccxt_binance(credentials)
    try:
        await exchange.load_markets()
        await exchange.create_order(SYMBOL, "limit", "buy", str(quantity), str(top))
        await exchange.create_order(SYMBOL, "limit", "buy", str(second_qty), str(second))
    finally:
        await exchange.close()
    await asyncio.sleep(1.0)  # the Kraken feed's updates reach the books
