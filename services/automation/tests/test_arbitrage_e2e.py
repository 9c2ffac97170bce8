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
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
import pytest_asyncio
from order_management.tests.harness import Desk, Platform, desk_for
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from eip.automation.topics import Topics
from eip.bus import Producer
from eip.events.topics import AUDIT_EVENTS, AUTH_CREDENTIALS
from eip.events.v1 import automation_pb2, orders_pb2
from eip.exchange_simulator.client import SimulatorClient
from eip.order_book.app import build_app as order_book_app
from eip.order_book.settings import OrderBookSettings
from eip.order_management.runtime import Topics as OrderManagementTopics
from eip.testing.auth import auth_services
from eip.testing.endpoints import VaultEndpoint
from eip.testing.plugin import TopicFactory
from eip.testing.simulator import SimulatorProcess, run_simulator
from eip.testing.tokens import TokenIssuer
from eip.vault import VaultClient

from .conftest import ACCOUNT, Service, Starter, read_all, until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

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


@contextlib.asynccontextmanager
async def books_followed(
    service: Service,
    binance: SimulatorClient,
    kraken: SimulatorClient,
    kafka_bootstrap_servers: str,
    database_url: str,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    token_issuer: TokenIssuer,
) -> AsyncIterator[None]:
    """The order-book service following ``binance`` as Binance and ``kraken`` as Kraken onto
    the service's book topics, until both books are usable in the automation service; both
    markets are resumed and the order-book schema dropped after."""
    books_app = order_book_app(
        OrderBookSettings(
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            database_url=SecretStr(database_url),
            subscriptions_schema=f"{db_schema}_ob",
            subscriptions={"binance": [SYMBOL], "kraken": [SYMBOL]},
            exchange_urls={"binance": binance.base_url, "kraken": kraken.base_url},
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
            yield
    finally:
        await binance.resume_market()
        await kraken.resume_market()
        async with db_pool.connection() as conn:
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(f"{db_schema}_ob")
                )
            )


async def paused_and_pushed_apart(
    binance: SimulatorClient, kraken: SimulatorClient
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both markets paused, Kraken's bids pushed 0.6 % over Binance's best ask; both books as
    the simulators hold them then."""
    await binance.pause_market()
    await kraken.pause_market()
    await asyncio.sleep(1.5)  # the last generated updates arrive
    truth_binance = await binance.book("BTCUSDT", limit=1000)
    before = await kraken.book("BTCUSDT", limit=1000)
    best_ask = D(truth_binance["asks"][0][0])
    top = (best_ask * D("1.006")).quantize(D("0.01"))
    swept = sum((q for p, q in levels(before["asks"]) if p <= top), D(0))
    await push_apart(kraken, top, swept + D("0.5"), top - D("0.02"), D("0.4"))
    truth_kraken = await kraken.book("BTCUSDT", limit=1000)
    assert D(truth_kraken["bids"][0][0]) == top
    return truth_binance, truth_kraken


async def test_two_venues_pushed_apart_show_the_hand_computed_opportunity(
    clean_simulator: SimulatorClient,
    kraken_venue: SimulatorClient,
    start_service: Starter,
    kafka_bootstrap_servers: str,
    database_url: str,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    token_issuer: TokenIssuer,
) -> None:
    binance = clean_simulator  # no fault or rate-limit use left by an earlier test
    service = await start_service(
        evaluation_enabled=False, taker_fees=FEES, arbitrage_close_after_s=120
    )
    # an account that set execution up but switched it off: it never trades
    off = await service.http.put(
        f"/v1/arbitrage/accounts/{ACCOUNT}", json={**opt_in(), "enabled": False}
    )
    assert off.status_code == 200, off.text
    async with books_followed(
        service,
        binance,
        kraken_venue,
        kafka_bootstrap_servers,
        database_url,
        db_schema,
        db_pool,
        token_issuer,
    ):
        truth_binance, truth_kraken = await paused_and_pushed_apart(binance, kraken_venue)
        best_ask = D(truth_binance["asks"][0][0])
        top = D(truth_kraken["bids"][0][0])
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
    # execution is off for everyone: not one command was ever sent
    await service.automation.store.relay_commands()
    assert await read_all(kafka_bootstrap_servers, service.topics.commands) == []
    listed = await service.http.get("/v1/arbitrage/executions")
    assert listed.json() == {"executions": []}


async def push_apart(
    venue: SimulatorClient, top: Decimal, quantity: Decimal, second: Decimal, second_qty: Decimal
) -> None:
    """Buy up to ``top`` (what is not filled rests there), then bid ``second``."""
    credentials = await venue.create_account_with_key(
        f"arbitrage-pusher-{uuid.uuid4().hex[:8]}", {"USDT": "100000000", "BTC": "0"}
    )
    exchange = venue.ccxt_binance(credentials)
    try:
        await exchange.load_markets()
        await exchange.create_order(SYMBOL, "limit", "buy", str(quantity), str(top))
        await exchange.create_order(SYMBOL, "limit", "buy", str(second_qty), str(second))
    finally:
        await exchange.close()
    await asyncio.sleep(1.0)  # the Kraken feed's updates reach the books


# -- executing the opportunity through the real order-management service ------------------------

SIM_TAKER_FEE = D("0.001")  # both simulators' BTCUSDT (default-market.toml), in what is received
LOT = D("0.00001")  # BTCUSDT's step_size at both


def opt_in(**changes: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "exchanges": ["binance", "kraken"],
        "symbols": [SYMBOL],
        "max_notional_per_execution": "200",
        "max_notional_per_day": "1000",
        "min_net_profit_bps": "1",
        # under load a book may go stale and the opportunity close and reopen under a new id;
        # the cool-down keeps these tests to one execution per account, as they assert
        "cooldown_s": 3600,
        "lot": str(LOT),
        **changes,
    }


@pytest_asyncio.fixture(scope="module")
async def venues(
    simulator_process: SimulatorProcess,
    kraken_process: SimulatorProcess,
    database_url: str,
    kafka_bootstrap_servers: str,
    vault: VaultClient,
    vault_endpoint: VaultEndpoint,
    db_pool: AsyncConnectionPool[AsyncConnection],
    make_topic: TopicFactory,
    token_issuer: TokenIssuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Platform]:
    """The auth service holding keys of the Binance simulator and of the Kraken one (each
    validated at its own), and the client order management signs with."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    sim = SimulatorClient(simulator_process.base_url)
    async with auth_services(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        vault=vault,
        vault_endpoint=vault_endpoint,
        schema=schema,
        credentials_topic=await make_topic(AUTH_CREDENTIALS),
        audit_topic=await make_topic(AUDIT_EVENTS),
        exchange_base_url=simulator_process.base_url,
        log_dir=tmp_path_factory.mktemp("arbitrage-auth"),
    ) as start:
        auth = await start(AUTH_KRAKEN_BASE_URL=kraken_process.base_url)
        client_id = f"order-management-{uuid.uuid4().hex[:6]}"
        secret = await auth.create_client(client_id, ["credentials:use", "books:read"], ["*"])
        yield Platform(
            sim, auth, client_id, secret, kafka_bootstrap_servers, database_url, token_issuer
        )
    await sim.aclose()
    async with db_pool.connection() as conn:
        for name in (schema, f"{schema}_audit"):
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            )


@pytest_asyncio.fixture
async def two_venue_desk(
    venues: Platform,
    kraken_process: SimulatorProcess,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    topics: Topics,
    producer: Producer,
) -> AsyncIterator[Desk]:
    """Order management on the automation test's topics, trading Binance at one simulator and
    Kraken at the other (``desk.instance()`` starts it)."""
    schema = f"{db_schema}_om"
    shared = OrderManagementTopics(
        commands=topics.commands,
        events=topics.order_events,
        trades=topics.trades,
        tickers=topics.tickers,
        audit=topics.audit,
    )
    async with desk_for(venues, schema, shared, producer) as opened:
        yield opened
    async with db_pool.connection() as conn:
        for name in (schema, f"{schema}_audit"):
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            )


async def trader(
    venues: Platform,
    binance: SimulatorClient,
    kraken: SimulatorClient,
    on_binance: dict[str, str],
    on_kraken: dict[str, str],
) -> str:
    """An account at both simulators with these balances, its two keys held by auth."""
    account = f"arb-{uuid.uuid4().hex[:10]}"
    for venue, client, balances in (
        ("binance", binance, on_binance),
        ("kraken", kraken, on_kraken),
    ):
        await client.create_account(account, dict(balances))
        key = await client.create_key(account, "trading", venue=venue)
        await venues.auth.create_credential(account, venue, key.api_key, key.secret)
    return account


async def executions_of(
    service: Service, token_issuer: TokenIssuer, account: str, *states: str
) -> dict[str, Any]:
    """The account's one execution once it is in one of ``states``."""
    seen: dict[str, Any] = {}

    async def settled() -> bool:
        answer = await service.http.get(
            "/v1/arbitrage/executions",
            params={"account_id": account},
            headers=token_issuer.headers(["rules:read"], accounts=[account]),
        )
        assert answer.status_code == 200, answer.text
        found = answer.json()["executions"]
        assert len(found) <= 1, found  # one execution per opportunity and account
        if found:
            seen.update(found[0])
        return bool(found) and found[0]["state"] in states

    deadline = time.monotonic() + 120
    while not await settled():
        assert time.monotonic() < deadline, f"no execution in {states}; last seen {seen}"
        await asyncio.sleep(0.5)
    return seen


async def balances(client: SimulatorClient, account: str) -> dict[str, Decimal]:
    """Free + locked per asset, as the simulator holds them."""
    return {
        asset: sum(parts.values(), D(0))
        for asset, parts in (await client.balances(account)).items()
    }


async def start_trading(
    service_starter: Starter,
    desk: Desk,
    binance: SimulatorClient,
    kraken: SimulatorClient,
    token_issuer: TokenIssuer,
    account: str,
) -> Service:
    """Order management trading both simulators, the automation service detecting and
    executing for ``account`` (opted in before the opportunity appears)."""
    await desk.instance(exchange_urls={"binance": binance.base_url, "kraken": kraken.base_url})
    service = await service_starter(
        evaluation_enabled=False, taker_fees=FEES, arbitrage_close_after_s=120
    )
    admin = token_issuer.headers(["automation:admin"], accounts=[account])
    answer = await service.http.put(
        f"/v1/arbitrage/accounts/{account}", json=opt_in(), headers=admin
    )
    assert answer.status_code == 200, answer.text
    return service


async def test_with_execution_on_both_legs_fill_and_the_balances_on_both_venues_reflect_them(
    clean_simulator: SimulatorClient,
    kraken_venue: SimulatorClient,
    venues: Platform,
    two_venue_desk: Desk,
    start_service: Starter,
    kafka_bootstrap_servers: str,
    database_url: str,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    token_issuer: TokenIssuer,
) -> None:
    binance = clean_simulator  # no fault or rate-limit use left by an earlier test
    account = await trader(
        venues, binance, kraken_venue, {"USDT": "1000", "BTC": "0"}, {"USDT": "0", "BTC": "0.1"}
    )
    service = await start_trading(
        start_service, two_venue_desk, binance, kraken_venue, token_issuer, account
    )
    before = {
        "binance": await balances(binance, account),
        "kraken": await balances(kraken_venue, account),
    }
    async with books_followed(
        service,
        binance,
        kraken_venue,
        kafka_bootstrap_servers,
        database_url,
        db_schema,
        db_pool,
        token_issuer,
    ):
        await paused_and_pushed_apart(binance, kraken_venue)
        x = await executions_of(
            service,
            token_issuer,
            account,
            "both_filled",
            "unwinding",
            "unwound",
            "failed",
            "missed",
        )
    assert x["state"] == "both_filled", x
    legs = {leg["role"]: leg for leg in x["legs"]}
    assert set(legs) == {"buy", "sell"}
    quantity = D(x["quantity"])
    # 200 USDT at the buy limit, down to the lot
    assert quantity == (D(200) / D(x["buy_price"]) / LOT).to_integral_value(ROUND_DOWN) * LOT
    buy, sell = legs["buy"], legs["sell"]
    assert (buy["exchange"], buy["side"], buy["state"]) == ("binance", "buy", "filled")
    assert (sell["exchange"], sell["side"], sell["state"]) == ("kraken", "sell", "filled")
    assert D(buy["filled_quantity"]) == D(sell["filled_quantity"]) == quantity
    bought_at, sold_at = D(buy["average_price"]), D(sell["average_price"])
    assert bought_at <= D(x["buy_price"])  # IOC limits: never beyond the opportunity
    assert sold_at >= D(x["sell_price"])
    assert sold_at * (1 - SIM_TAKER_FEE) > bought_at * (1 + SIM_TAKER_FEE)  # a profit

    # the venues' own balances: what the two fills moved, fees taken in what was received
    after = {
        "binance": await balances(binance, account),
        "kraken": await balances(kraken_venue, account),
    }
    assert after["binance"]["BTC"] - before["binance"]["BTC"] == quantity * (1 - SIM_TAKER_FEE)
    assert before["binance"]["USDT"] - after["binance"]["USDT"] == quantity * bought_at
    assert before["kraken"]["BTC"] - after["kraken"]["BTC"] == quantity
    # the simulator keeps 8 decimals of an amount
    received = quantity * sold_at * (1 - SIM_TAKER_FEE)
    assert abs(after["kraken"]["USDT"] - before["kraken"]["USDT"] - received) <= D("1e-8")

    # exactly once: two commands, one order each at order management
    commands = [
        m
        for m in await read_all(kafka_bootstrap_servers, service.topics.commands)
        if isinstance(m, orders_pb2.OrderCommand) and m.account_id == account
    ]
    assert sorted(c.idempotency_key for c in commands) == [
        f"{x['execution_id']}#buy",
        f"{x['execution_id']}#sell",
    ]
    om = two_venue_desk.instances[0]
    listed = await om.http.get(
        "/v1/orders",
        params={"account_id": account},
        headers=two_venue_desk.headers(accounts=[account]),
    )
    assert sorted(o["idempotency_key"] for o in listed.json()["orders"]) == [
        f"{x['execution_id']}#buy",
        f"{x['execution_id']}#sell",
    ]


async def test_a_leg_refused_for_its_balance_is_unwound_on_the_other_venue_back_to_flat(
    clean_simulator: SimulatorClient,
    kraken_venue: SimulatorClient,
    venues: Platform,
    two_venue_desk: Desk,
    start_service: Starter,
    kafka_bootstrap_servers: str,
    database_url: str,
    db_schema: str,
    db_pool: AsyncConnectionPool[AsyncConnection],
    token_issuer: TokenIssuer,
) -> None:
    binance = clean_simulator  # no fault or rate-limit use left by an earlier test
    # no BTC at Kraken: order management denies the sell leg; the buy leg fills at Binance.
    # Binance holds a little BTC already: its fee is taken from the BTC the buy receives, and
    # the unwind sells back the quantity bought (docs/AUTOMATION.md, the unwind rule).
    account = await trader(
        venues, binance, kraken_venue, {"USDT": "1000", "BTC": "0.001"}, {"USDT": "0", "BTC": "0"}
    )
    service = await start_trading(
        start_service, two_venue_desk, binance, kraken_venue, token_issuer, account
    )
    before = {
        "binance": await balances(binance, account),
        "kraken": await balances(kraken_venue, account),
    }
    async with books_followed(
        service,
        binance,
        kraken_venue,
        kafka_bootstrap_servers,
        database_url,
        db_schema,
        db_pool,
        token_issuer,
    ):
        await paused_and_pushed_apart(binance, kraken_venue)
        x = await executions_of(
            service, token_issuer, account, "both_filled", "unwound", "failed", "missed"
        )
    assert x["state"] == "unwound", x
    legs = {leg["role"]: leg for leg in x["legs"]}
    buy, sell, unwind = legs["buy"], legs["sell"], legs["unwind"]
    assert (sell["state"], D(sell["filled_quantity"])) == ("denied", D(0))
    assert sell["reason"].startswith("insufficient_balance"), sell
    assert (buy["state"], D(buy["filled_quantity"])) == ("filled", D(x["quantity"]))
    assert (unwind["exchange"], unwind["side"], unwind["order_type"]) == (
        "binance",
        "sell",
        "market",
    )
    assert unwind["state"] == "filled"
    # flat: what the buy leg bought, the unwind sold on the same venue
    assert D(unwind["filled_quantity"]) == D(buy["filled_quantity"])
    after = {
        "binance": await balances(binance, account),
        "kraken": await balances(kraken_venue, account),
    }
    bought = D(buy["filled_quantity"])
    assert after["binance"]["BTC"] - before["binance"]["BTC"] == -bought * SIM_TAKER_FEE  # the fee
    assert after["kraken"] == before["kraken"]  # nothing traded there
    proceeds = bought * D(unwind["average_price"]) * (1 - SIM_TAKER_FEE)
    paid = bought * D(buy["average_price"])
    assert abs(after["binance"]["USDT"] - before["binance"]["USDT"] - (proceeds - paid)) <= D(
        "1e-8"
    )
