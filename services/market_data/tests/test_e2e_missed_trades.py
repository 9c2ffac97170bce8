"""Against the exchange simulator (native Binance adapter) and real Kafka: trades printed while
market-data was stopped, while its stream was cut and while it stalled all reach md.trades.v1,
each exactly once and in the venue's order (issue 11 §8)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from eip.events.topics import MD_TICKERS, MD_TRADES
from eip.exchange_simulator.client import SimulatorClient
from eip.market_data.app import build_app
from eip.market_data.live.service import LiveService
from eip.market_data.settings import MarketDataSettings, SubscriptionConfig
from eip.market_data.wire import trade_from_message
from eip.testing.plugin import TopicFactory
from eip.testing.simulator import venue_tape
from eip.testing.tokens import TokenIssuer

from .helpers import read_topic, wait_until

pytestmark = pytest.mark.integration


def recovered() -> float:
    return REGISTRY.get_sample_value("eip_md_trades_recovered_total", {"exchange": "binance"}) or 0


async def test_trades_printed_while_stopped_cut_off_or_stalled_reach_the_topic_exactly_once(
    clean_simulator: SimulatorClient,
    kafka_bootstrap_servers: str,
    database_url: str,
    db_schema: str,
    token_issuer: TokenIssuer,
    make_topic: TopicFactory,
) -> None:
    trades_topic = await make_topic(MD_TRADES)
    tickers_topic = await make_topic(MD_TICKERS)
    settings = MarketDataSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=SecretStr(database_url),
        history_schema=db_schema,
        exchange_urls={"binance": clean_simulator.base_url},
        subscriptions=[SubscriptionConfig(exchange="binance", symbol="BTC/USDT", channel="trades")],
        stale_after_s=3.0,  # a stall is noticed (and filled over REST) after 3 s
        candles_enabled=False,
        **token_issuer.settings(),
    )

    def run() -> Any:
        app = build_app(settings, trades_topic=trades_topic, tickers_topic=tickers_topic)
        return app, app.router.lifespan_context(app)

    def live_of(app: Any) -> LiveService:
        service: LiveService = app.state.live
        return service

    async def until_flowing(live: LiveService) -> None:
        # The generated market prints seldom (about one BTCUSDT trade every 1.5 s): the test
        # prints its own until one arrives; those printed before the stream was up are before
        # the first id on the topic, which is where the comparison starts.
        deadline = asyncio.get_running_loop().time() + 60
        while ("binance", "BTC/USDT") not in live.last_trades:
            assert asyncio.get_running_loop().time() < deadline, "no trade arrived in 60 s"
            await clean_simulator.print_trades("BTCUSDT", 1, "49999.5", "0.01")
            await asyncio.sleep(0.5)

    app, lifespan = run()
    async with lifespan:
        live = live_of(app)
        await until_flowing(live)
        await clean_simulator.print_trades("BTCUSDT", 5, "50000.5", "0.125")
        # the connection cut: re-opened after a backoff, trades printed meanwhile
        await clean_simulator.drop_streams()
        await clean_simulator.print_trades("BTCUSDT", 5, "50001.5", "0.25")
        await asyncio.sleep(3)
        # the stream stalls: REST is asked every stale_after_s while it stays quiet
        before = recovered()
        await clean_simulator.stall_streams(8)
        await clean_simulator.print_trades("BTCUSDT", 5, "50002.5", "0.5")
        await wait_until(lambda: recovered() > before, 30)
        await asyncio.sleep(7)  # the stall ends: what it held arrives, already published
        await live.publisher.drain()
    # stopped: the venue goes on printing
    await clean_simulator.print_trades("BTCUSDT", 20, "50003.5", "0.75")
    before = recovered()
    app, lifespan = run()
    async with lifespan:
        live = live_of(app)
        await wait_until(lambda: recovered() >= before + 20, 60)  # read back, then fetched
        await clean_simulator.print_trades("BTCUSDT", 3, "50004.5", "1")
        await asyncio.sleep(3)
        await live.publisher.drain()

    ids = [
        int(trade_from_message(m).trade_id)  # type: ignore[arg-type]
        for m in await read_topic(kafka_bootstrap_servers, trades_topic)
    ]
    assert len(ids) == len(set(ids)), "a trade was published twice"
    assert ids == sorted(ids), "trades were published out of the venue's order"
    tape = [int(t["a"]) for t in await venue_tape(clean_simulator.base_url, "BTCUSDT", ids[0])]
    assert ids == [i for i in tape if i <= ids[-1]], "a trade the venue printed is missing"
    assert len(ids) >= 5 + 5 + 5 + 20 + 3
