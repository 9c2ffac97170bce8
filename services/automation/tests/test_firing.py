"""Firings on real Kafka and PostgreSQL: a rule fires once per trigger — through the market
streams into orders.commands.v1 with its firing id as idempotency key, across a redelivered
tick, a restart, and two instances that both hold the account — and pauses itself after
repeated errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from eip.automation.commands import command_id
from eip.automation.rules.engine import RuleEngine
from eip.automation.storage.rules import RuleStore
from eip.bus import Producer, Record
from eip.events.topics import record_key
from eip.events.v1 import automation_pb2, common_pb2, order_book_pb2, orders_pb2
from eip.exchanges.contract.market_data import Ticker
from eip.market_data.candles.builder import Candle, CandleKey
from eip.market_data.wire import candle_key as candle_record_key
from eip.market_data.wire import candle_message, ticker_message

from .conftest import ACCOUNT, Service, Starter, read_all, until

pytestmark = pytest.mark.integration


def price_rule(level: str, **limits: Any) -> dict[str, Any]:
    return {
        "account_id": ACCOUNT,
        "name": f"above {level}",
        "condition": {
            "type": "price_cross",
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "price": "last",
            "direction": "above",
            "level": level,
        },
        "action": {
            "type": "place_order",
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "side": "buy",
            "order_type": "market",
            "quote_quantity": "50",
        },
        "limits": limits,
    }


async def tick(service: Service, producer: Producer, last: str) -> None:
    ticker = Ticker(
        "binance",
        "BTC/USDT",
        Decimal(last) - 1,
        Decimal(1),
        Decimal(last) + 1,
        Decimal(1),
        Decimal(last),
        None,
        None,
        None,
        None,
        None,
        datetime.now(UTC),
        datetime.now(UTC),
    )
    await producer.publish(
        service.topics.tickers, record_key("binance", "BTC/USDT"), ticker_message(ticker)
    )


async def commands(service: Service) -> list[orders_pb2.OrderCommand]:
    found = await read_all(service.settings.kafka_bootstrap_servers, service.topics.commands)
    return [c for c in found if isinstance(c, orders_pb2.OrderCommand)]


async def ready(service: Service, rule_id: str) -> None:
    await until(lambda: rule_id in service.automation.engine.rules, 60, "the rule is evaluated")
    # the market consumer starts from the end of the topics: let it join first
    await asyncio.sleep(3)


async def test_a_price_cross_becomes_one_command_per_crossing_with_the_firing_id_as_key(
    start_service: Starter, producer: Producer
) -> None:
    service = await start_service()
    created = await service.http.post("/v1/rules", json=price_rule("100"))
    rule_id = created.json()["rule_id"]
    await ready(service, rule_id)
    for last in ("99", "101", "102", "99", "101"):
        await tick(service, producer, last)
    await until(lambda: service.automation.fired >= 2, 30, "two firings")
    await asyncio.sleep(0.5)
    sent = await commands(service)
    keys = [c.idempotency_key for c in sent]
    assert keys == [f"{rule_id}:1:e1", f"{rule_id}:1:e2"]
    first = sent[0]
    assert first.account_id == ACCOUNT
    assert first.command_id == str(command_id(f"{rule_id}:1:e1"))
    assert first.requested_by == f"automation/rule/{rule_id}"
    spec = first.place.spec
    assert (spec.instrument.exchange, spec.instrument.symbol) == ("binance", "BTC/USDT")
    assert (spec.side, spec.type, spec.quote_quantity) == (
        common_pb2.SIDE_BUY,
        orders_pb2.ORDER_TYPE_MARKET,
        "50",
    )
    firings = (await service.http.get(f"/v1/rules/{rule_id}/firings")).json()["firings"]
    assert sorted(f["trigger"] for f in firings) == ["e1", "e2"]
    assert {f["outcome"] for f in firings} == {"command"}
    assert (await service.http.get(f"/v1/rules/{rule_id}")).json()["firings"] == 2


async def test_a_restarted_instance_and_a_second_owner_never_fire_a_trigger_twice(
    start_service: Starter, producer: Producer
) -> None:
    service = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    store = service.store
    rule_id = (await service.http.post("/v1/rules", json=price_rule("100"))).json()["rule_id"]

    async def instance() -> RuleEngine:
        engine = RuleEngine()
        rule = await store.rule_for_evaluation(rule_id)
        assert rule is not None
        engine.add(rule)
        return engine

    at = datetime.now(UTC)
    # two instances that both believe they hold the account see the same ticks
    first, second = await instance(), await instance()
    for engine in (first, second):
        for t in engine.on_trade("binance", "BTC/USDT", at, Decimal(99)):
            await store.apply(t)
    crossing = [
        engine.on_trade("binance", "BTC/USDT", at, Decimal(101)) for engine in (first, second)
    ]
    results = await asyncio.gather(*(store.apply(t) for ts in crossing for t in ts))
    assert sorted(r.outcome for r in results) == ["conflict", "fired"]
    # the same tick again (a redelivery) changes nothing
    again = await instance()
    again.rules[rule_id].level = False  # as the engine before the crossing held it
    for t in again.on_trade("binance", "BTC/USDT", at, Decimal(101)):
        assert (await store.apply(t)).outcome == "conflict"
    # a restart loads the stored state: already above, nothing to fire at 102
    restarted = await instance()
    assert restarted.rules[rule_id].level is True
    assert restarted.on_trade("binance", "BTC/USDT", at, Decimal(102)) == []
    await store.relay_commands()
    sent = await commands(service)
    assert [c.idempotency_key for c in sent] == [f"{rule_id}:1:e1"]
    firings = await store.firings(rule_id)
    assert [f.firing_id for f in firings] == [f"{rule_id}:1:e1"]


async def test_a_cron_instant_fires_once_however_many_instances_see_it(
    start_service: Starter,
) -> None:
    service = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    store: RuleStore = service.store
    body = {
        **price_rule("1"),
        "name": "DCA 50 USDT every minute, Paris time",
        "condition": {"type": "cron", "expression": "* * * * *", "timezone": "Europe/Paris"},
    }
    rule_id = (await service.http.post("/v1/rules", json=body)).json()["rule_id"]
    engines = []
    for _ in range(3):
        engine = RuleEngine()
        rule = await store.rule_for_evaluation(rule_id)
        assert rule is not None
        engine.add(rule)
        engines.append(engine)
    later = datetime.now(UTC) + timedelta(minutes=2)
    transitions = [t for e in engines for t in e.on_clock(later)]
    assert len(transitions) == 3
    assert len({t.trigger for t in transitions}) == 1
    results = await asyncio.gather(*(store.apply(t) for t in transitions))
    assert sorted(r.outcome for r in results) == ["conflict", "conflict", "fired"]
    (fired,) = [r.firing for r in results if r.firing is not None]
    instant = transitions[0].at
    assert fired.firing_id == f"{rule_id}:1:{instant.isoformat()}"
    assert instant.utcoffset() == timedelta(hours=1)  # Paris in winter
    assert instant.second == 0


async def test_a_rule_refused_by_its_limits_three_times_pauses_itself_with_the_reason(
    start_service: Starter, producer: Producer
) -> None:
    service = await start_service()
    body = price_rule("100", max_notional_per_firing="10")  # each firing asks for 50
    rule_id = (await service.http.post("/v1/rules", json=body)).json()["rule_id"]
    await ready(service, rule_id)
    for _ in range(3):
        await tick(service, producer, "99")
        await tick(service, producer, "101")
    await until(lambda: rule_id not in service.automation.engine.rules, 30, "the rule paused")
    rule = (await service.http.get(f"/v1/rules/{rule_id}")).json()
    assert rule["status"] == "paused"
    assert "max_notional_per_firing" in rule["status_reason"]
    firings = (await service.http.get(f"/v1/rules/{rule_id}/firings")).json()["firings"]
    assert [f["outcome"] for f in firings] == ["refused"] * 3
    assert await commands(service) == []
    changes = await read_all(service.settings.kafka_bootstrap_servers, service.topics.rules)
    paused = [
        c
        for c in changes
        if isinstance(c, automation_pb2.RuleChange)
        and c.action == automation_pb2.RULE_CHANGE_ACTION_PAUSED
    ]
    assert [(c.rule_id, c.actor) for c in paused] == [(rule_id, "automation")]


async def test_an_indicator_rule_reads_its_history_back_and_is_live_at_the_next_candle(
    start_service: Starter, producer: Producer
) -> None:
    service = await start_service(arbitrage_enabled=False)
    key = CandleKey("binance", "BTC/USDT", "1m")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)

    async def candle(minute: int, close: str) -> None:
        price = Decimal(close)
        closed = Candle(
            key,
            start + timedelta(minutes=minute),
            price,
            price,
            price,
            price,
            Decimal(1),
            price,
            1,
            closed=True,
        )
        await producer.publish(
            service.topics.candles, candle_record_key(closed), candle_message(closed)
        )

    for minute, close in enumerate(["100", "102", "104", "106", "108"]):  # the history
        await candle(minute, close)
    body = {
        **price_rule("1"),
        "name": "SMA(5) of 1m above 103",
        "condition": {
            "type": "indicator",
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "timeframe": "1m",
            "indicator": {"kind": "sma", "period": 5},
            "direction": "above",
            "level": "103",
        },
        "action": {"type": "alert"},
    }
    rule_id = (await service.http.post("/v1/rules", json=body)).json()["rule_id"]
    engine = service.automation.engine
    await until(
        lambda: rule_id in engine.rules and not engine.cold_indicators(), 60, "history read"
    )
    (indicator,) = engine.markets[("binance", "BTC/USDT")].indicators.values()
    assert indicator.value == Decimal(104)  # the mean of the five closes read back
    await asyncio.sleep(3)  # the market consumer joins at the end of the topics
    await candle(5, "110")  # SMA(5) = 106: defined at once, no wait for five live candles
    await until(lambda: engine.rules[rule_id].level is True, 30, "the rule's level")


async def test_a_paper_rule_fills_against_the_live_book_and_sends_nothing(
    start_service: Starter, producer: Producer
) -> None:
    service = await start_service(arbitrage_enabled=False, taker_fees={"binance": "0.001"})
    body = {
        **price_rule("100"),
        "paper": True,
        "action": {
            "type": "place_order",
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "side": "buy",
            "order_type": "market",
            "quantity": "1.5",
        },
    }
    created = await service.http.post("/v1/rules", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["paper"] is True
    rule_id = created.json()["rule_id"]
    book = order_book_pb2.BookSnapshot(
        instrument=common_pb2.Instrument(exchange="binance", symbol="BTC/USDT"),
        epoch=1,
        depth=10,
        price_decimals=1,
        size_decimals=1,
        bids=[common_pb2.PriceLevel(price="99.0", quantity="5.0")],
        asks=[
            common_pb2.PriceLevel(price="100.0", quantity="1.0"),
            common_pb2.PriceLevel(price="101.0", quantity="1.0"),
        ],
    )
    service.automation.books.handle(Record("t", 0, 0, None, book, [], 0))
    await ready(service, rule_id)
    await tick(service, producer, "99")
    await tick(service, producer, "101")
    await until(lambda: service.automation.fired >= 1, 30, "the paper firing")
    paper = (await service.http.get(f"/v1/rules/{rule_id}/paper")).json()
    (fill,) = paper["fills"]
    assert fill["firing_id"] == f"{rule_id}:1:e1"
    assert (Decimal(fill["filled_size"]), Decimal(fill["filled_notional"])) == (
        Decimal("1.5"),
        Decimal("150.5"),  # 1 at 100, 0.5 at 101
    )
    assert Decimal(fill["fee"]) == Decimal("0.1505")
    assert fill["complete"] is True
    assert Decimal(fill["slippage_vs_mid_bps"]) > 0
    firings = (await service.http.get(f"/v1/rules/{rule_id}/firings")).json()["firings"]
    assert [f["outcome"] for f in firings] == ["paper"]
    assert firings[0]["command_id"] is None
    await asyncio.sleep(0.5)
    assert await commands(service) == []
    refused = await service.http.post(
        "/v1/rules", json={**price_rule("1"), "paper": True, "action": {"type": "alert"}}
    )
    assert refused.status_code == 422
