"""A TWAP action on real PostgreSQL and Kafka: the firing starts a schedule, each slice is an
ordinary command under its own idempotency key, the participation cap holds slices back and
what is left after the last is the shortfall, and a slice is sent once however many instances
try."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from eip.automation.rules.engine import RuleEngine
from eip.events.v1 import orders_pb2

from .conftest import ACCOUNT, Starter, read_all

pytestmark = pytest.mark.integration


async def test_a_twap_slices_its_quantity_under_the_participation_cap_once_each(
    start_service: Starter,
) -> None:
    service = await start_service(evaluation_enabled=False, arbitrage_enabled=False)
    store, automation = service.store, service.automation
    body = {
        "account_id": ACCOUNT,
        "name": "buy 1 BTC over 40 s once above 100",
        "condition": {
            "type": "price_cross",
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "direction": "above",
            "level": "100",
        },
        "action": {
            "type": "twap",
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "side": "buy",
            "quantity": "1",
            "duration_s": 40,
            "slices": 4,
            "max_participation": "0.5",
        },
    }
    created = await service.http.post("/v1/rules", json=body)
    assert created.status_code == 201, created.text
    rule_id = created.json()["rule_id"]
    engine = RuleEngine()
    rule = await store.rule_for_evaluation(rule_id)
    assert rule is not None
    engine.add(rule)
    at = datetime.now(UTC)
    for price in ("99", "101"):
        for t in engine.on_trade("binance", "BTC/USDT", at, Decimal(price)):
            applied = await store.apply(t, Decimal(price))
    assert applied.firing is not None
    assert applied.firing.outcome == "schedule"
    firing_id = applied.firing.firing_id

    def owned(account: str) -> bool:
        return True

    def trade(amount: str) -> None:
        automation.engine.on_trade("binance", "BTC/USDT", at, Decimal(101), Decimal(amount))

    (schedule,) = await store.running_schedules(owned)
    start = schedule.started_at
    assert await automation.send_slices(start + timedelta(seconds=5), owned) == 0  # not due
    trade("0.3")
    assert await automation.send_slices(start + timedelta(seconds=10), owned) == 1  # 0.15
    trade("1.0")
    assert await automation.send_slices(start + timedelta(seconds=20), owned) == 1  # 0.2833
    # two instances reach slice 2 together (no volume since: capped to 0): one sends it
    first, second = await store.running_schedules(owned), await store.running_schedules(owned)
    assert await store.send_slice(first[0], Decimal(0))
    assert not await store.send_slice(second[0], Decimal(0))
    assert await automation.send_slices(start + timedelta(seconds=30), owned) == 0  # not due
    assert await automation.send_slices(start + timedelta(seconds=40), owned) == 1  # the last
    assert await store.running_schedules(owned) == []
    async with store.connection() as conn:
        cur = await conn.execute(
            f'SELECT done_quantity, shortfall, status FROM "{store.schema}".schedules'
        )
        assert await cur.fetchone() == (Decimal("0.43333333"), Decimal("0.56666667"), "done")
    await store.relay_commands()
    sent = [
        c
        for c in await read_all(service.settings.kafka_bootstrap_servers, service.topics.commands)
        if isinstance(c, orders_pb2.OrderCommand)
    ]
    assert [(c.idempotency_key, Decimal(c.place.spec.quantity)) for c in sent] == [
        (f"{firing_id}/0", Decimal("0.15")),
        (f"{firing_id}/1", Decimal("0.28333333")),
    ]
    assert all(c.place.spec.type == orders_pb2.ORDER_TYPE_MARKET for c in sent)
